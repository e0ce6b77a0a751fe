// Ports for the demo: free ones from the kernel by default, or a block the
// user chose with --base-port, checked up front so that a port in use is one
// clear line (exit 2) instead of a sidecar dying later.
import net from 'node:net';
import { UsageError } from '../errors.js';
import { PORT_NAMES, PORT_ROLES, portsFrom, portsFromBase, type Ports } from './topology.js';

function bind(port: number): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen({ port, host: '127.0.0.1', exclusive: true }, () => resolve(s));
  });
}

function close(s: net.Server): Promise<void> {
  return new Promise((r) => s.close(() => r()));
}

/** Hold every port at once (so none is handed out twice), then release them all. */
export async function freePorts(): Promise<Ports> {
  const servers = await Promise.all(PORT_NAMES.map(() => bind(0)));
  const list = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map(close));
  return portsFrom(list);
}

/** The block PORT..PORT+n-1; throws a UsageError naming the first port in use. */
export async function portsAt(base: number): Promise<Ports> {
  const ports = portsFromBase(base);
  const held: net.Server[] = [];
  try {
    for (const name of PORT_NAMES) {
      try {
        held.push(await bind(ports[name]));
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        const why = code === 'EADDRINUSE' ? 'is already in use' : code === 'EACCES' ? 'needs privileges' : `cannot be used (${code ?? String(err)})`;
        throw new UsageError(
          `demo: --base-port: port ${ports[name]} (${PORT_ROLES[name]}) on 127.0.0.1 ${why}; the demo needs ${base}-${base + PORT_NAMES.length - 1} free: choose another --base-port or leave it out to use free ports`,
        );
      }
    }
  } finally {
    await Promise.all(held.map(close));
  }
  return ports;
}

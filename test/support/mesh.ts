// Sidecars and apps for end-to-end tests: start `tlsmesh proxy` with a config,
// wait for readiness, read its metrics; a small echo app to forward to.
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import { stringify } from 'yaml';
import { eventually, tlsmesh, writeYaml, type Proc } from './processes.js';

export interface SidecarHandle {
  proc: Proc;
  admin: string;
  configFile: string;
  get(path: string): Promise<{ status: number; body: string }>;
  metrics(): Promise<string>;
  waitReady(timeoutMs?: number): Promise<void>;
}

export async function startSidecar(dir: string, name: string, config: Record<string, unknown>, o: { waitReady?: boolean } = {}): Promise<SidecarHandle> {
  const configFile = writeYaml(dir, `${name}.yaml`, stringify(config));
  const admin = `http://${(config.admin as { listen: string }).listen}`;
  const proc = tlsmesh(['proxy', '--config', configFile]);
  const h: SidecarHandle = {
    proc,
    admin,
    configFile,
    get: (path) => httpGet(`${admin}${path}`),
    metrics: async () => (await httpGet(`${admin}/metrics`)).body,
    waitReady: async (timeoutMs = 15_000) => {
      await eventually(
        async () => {
          if (proc.child.exitCode !== null) throw new Error(`${name} exited: ${proc.stderr()} ${proc.stdout().slice(-500)}`);
          return (await h.get('/healthz/ready')).status === 200;
        },
        `${name} ready`,
        timeoutMs,
      );
    },
  };
  if (o.waitReady !== false) await h.waitReady();
  return h;
}

export function httpGet(url: string, headers: Record<string, string> = {}, agent?: http.Agent): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers, agent: agent ?? false, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: timeout`)));
    req.on('error', reject);
  });
}

/** The value of one sample, matching every given label exactly; undefined when absent. */
export function metric(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const got: Record<string, string> = {};
    for (const lm of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) got[lm[1]!] = lm[2]!;
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) return Number(m[3]);
  }
  return undefined;
}

export interface EchoApp {
  port: number;
  requests: { url: string; headers: http.IncomingHttpHeaders }[];
  server: http.Server;
  close(): Promise<void>;
}

/** An HTTP app answering JSON with what it saw; `/slow?ms=N` answers after N ms; `/1m` sends 1 MiB. */
export async function echoApp(port = 0): Promise<EchoApp> {
  const requests: EchoApp['requests'] = [];
  const server = http.createServer((req, res) => {
    requests.push({ url: req.url ?? '', headers: req.headers });
    const url = new URL(req.url ?? '/', 'http://x');
    const answer = () => {
      if (url.pathname === '/1m') {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': 1 << 20 });
        res.end(Buffer.alloc(1 << 20, 7));
        return;
      }
      const body = JSON.stringify({ url: req.url, method: req.method, headers: req.headers });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    };
    const ms = Number(url.searchParams.get('ms') ?? 0);
    if (url.pathname === '/slow' && ms > 0) setTimeout(answer, ms);
    else answer();
  });
  const sockets = new Set<net.Socket>();
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  // An upgrade (WebSocket-like): 101, then echo every byte back upper-cased.
  server.on('upgrade', (req, socket: net.Socket, head: Buffer) => {
    requests.push({ url: req.url ?? '', headers: req.headers });
    socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n');
    if (head.length) socket.write(head.toString().toUpperCase());
    socket.on('data', (d: Buffer) => socket.write(d.toString().toUpperCase()));
    socket.on('end', () => socket.end());
    socket.on('error', () => {});
  });
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as net.AddressInfo).port,
    requests,
    server,
    close: () =>
      new Promise((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** A TCP echo server that also reports half-close: on FIN it writes `<bytes>:eof` then ends. */
export interface TcpEcho {
  port: number;
  /** Called for every connection the app accepts. */
  onConnection?: () => void;
  close(): Promise<void>;
}

export async function tcpEcho(): Promise<TcpEcho> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    handle.onConnection?.();
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
    let n = 0;
    s.on('data', (d: Buffer) => {
      n += d.length;
      s.write(d);
    });
    s.on('end', () => s.end(`${n}:eof`));
    s.on('error', () => {});
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const handle: TcpEcho = {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
  return handle;
}

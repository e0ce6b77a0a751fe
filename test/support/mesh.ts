// Sidecars and apps for end-to-end tests: start `tlsmesh proxy` with a config,
// wait for readiness, read its metrics; a small echo app to forward to.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import tls from 'node:tls';
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

/** `n` bytes nobody could guess a piece of: SHA-256 of `seed/0`, `seed/1`, ... */
export function noiseBody(seed: string, n: number): Buffer {
  const out = Buffer.allocUnsafe(n);
  for (let i = 0; i * 32 < n; i++) createHash('sha256').update(`${seed}/${i}`).digest().copy(out, i * 32);
  return out;
}

/** `body` cut into pieces of odd sizes, 1 byte to 70 KiB: below, at and above a TLS record and a socket read. */
export function oddPieces(body: Buffer): Buffer[] {
  const pieces: Buffer[] = [];
  let piece = 1;
  for (let pos = 0; pos < body.length; ) {
    piece = (piece * 7919) % 70_001;
    const n = Math.min(body.length - pos, piece + 1);
    pieces.push(body.subarray(pos, pos + n));
    pos += n;
  }
  return pieces;
}

/**
 * One GET on a connection of its own (Connection: close), by hand, so that
 * the caller controls reading: with `stall`, nothing is read until the promise
 * it returns for the connected socket settles. Resolves with the body,
 * de-chunked; rejects on anything but a 200 or malformed chunking.
 */
export async function rawGet(port: number, path: string, o: { stall?: (s: net.Socket) => Promise<unknown>; tls?: boolean } = {}): Promise<Buffer> {
  // tls: any certificate will do (the engine's own tests, where the front speaks TLS).
  const s = o.tls ? tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false }) : net.connect({ port, host: '127.0.0.1' });
  try {
    await once(s, o.tls ? 'secureConnect' : 'connect');
    const parts: Buffer[] = [];
    if (o.stall) {
      s.pause();
      o.stall(s).then(
        () => s.resume(),
        (err: Error) => s.destroy(err),
      );
    }
    s.on('data', (d: Buffer) => parts.push(d));
    s.write(`GET ${path} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n`);
    await once(s, 'end');
    const all = Buffer.concat(parts);
    const at = all.indexOf('\r\n\r\n');
    const head = all.toString('latin1', 0, Math.max(0, at));
    if (!/^HTTP\/1\.1 200 /.test(head)) throw new Error(`GET ${path}: ${head.split('\r\n')[0] || 'no answer'}`);
    const body = all.subarray(at + 4);
    return /\r\ntransfer-encoding: *chunked/i.test(head) ? unchunk(body) : body;
  } finally {
    s.destroy();
  }
}

function unchunk(b: Buffer): Buffer {
  const out: Buffer[] = [];
  let pos = 0;
  for (;;) {
    const eol = b.indexOf('\r\n', pos);
    const size = eol < 0 ? NaN : parseInt(b.toString('latin1', pos, eol), 16);
    // Corrupted framing fails here, not by looping.
    if (!(size >= 0) || eol + 2 + size + 2 > b.length) throw new Error(`malformed chunked body at byte ${pos}`);
    if (size === 0) return Buffer.concat(out);
    out.push(b.subarray(eol + 2, eol + 2 + size));
    pos = eol + 2 + size + 2;
  }
}

/** IPv4 TCP sockets on this machine (/proc/net/tcp): ports and the kernel's send and receive queues, in bytes. */
export function tcpSockets(): { localPort: number; remotePort: number; tx: number; rx: number }[] {
  const out = [];
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 5) continue;
    const [tx, rx] = f[4]!.split(':').map((h) => parseInt(h, 16));
    out.push({ localPort: parseInt(f[1]!.split(':')[1]!, 16), remotePort: parseInt(f[2]!.split(':')[1]!, 16), tx: tx!, rx: rx! });
  }
  return out;
}

/**
 * An HTTP app answering JSON with what it saw; `/slow?ms=N` answers after N ms;
 * `/1m` sends 1 MiB; `/noise?seed=S&n=N[&chunked=1]` sends noiseBody(S, N).
 */
export async function echoApp(port = 0): Promise<EchoApp> {
  const requests: EchoApp['requests'] = [];
  const server = http.createServer((req, res) => {
    requests.push({ url: req.url ?? '', headers: req.headers });
    const url = new URL(req.url ?? '/', 'http://x');
    const answer = () => {
      if (url.pathname === '/noise') {
        // Deterministic bytes (noiseBody), with a length or chunked in pieces of odd sizes.
        const body = noiseBody(url.searchParams.get('seed') ?? '', Number(url.searchParams.get('n') ?? 0));
        if (url.searchParams.get('chunked') !== '1') {
          res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length });
          res.end(body);
          return;
        }
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        for (const piece of oddPieces(body)) res.write(piece);
        res.end();
        return;
      }
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

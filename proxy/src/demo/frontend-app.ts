// The demo's frontend app, a process of its own. It calls the backend in
// plain HTTP through its sidecar's outbound listener, continuously, and counts
// a request as ok only when the backend answered 200 and saw the frontend's
// SPIFFE ID in the identity header. It serves:
//   GET  /       one call through the mesh, answered with what the backend saw
//   GET  /stats  counters (JSON)
//   POST /start  start the traffic;  POST /stop  stop it, wait for in-flight calls, answer the final counters
//   node frontend-app.js PORT UPSTREAM_PORT EXPECTED_CALLER
import http from 'node:http';
import type { TrafficStats } from './state.js';

const [port, upstream] = [Number(process.argv[2]), Number(process.argv[3])];
const expected = process.argv[4] ?? '';
const WORKERS = 2;
const PAUSE_MS = 100;

const stats: TrafficStats & { inFlight: number } = { ok: 0, failed: 0, inFlight: 0, failures: [] };
const agent = new http.Agent({ keepAlive: true, maxSockets: WORKERS + 2 });
let running = false;
let workers: Promise<void>[] = [];

interface Outcome {
  ok: boolean;
  status: number;
  body: string;
  what?: string;
}

function call(path: string): Promise<Outcome> {
  return new Promise((resolve) => {
    stats.inFlight += 1;
    const done = (o: Outcome) => {
      stats.inFlight -= 1;
      if (o.ok) stats.ok += 1;
      else {
        stats.failed += 1;
        stats.failures.push({ at: new Date().toISOString(), what: o.what ?? `status ${o.status}` });
        if (stats.failures.length > 20) stats.failures.shift();
      }
      resolve(o);
    };
    const req = http.get({ host: '127.0.0.1', port: upstream, path, agent, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('error', (err) => done({ ok: false, status: res.statusCode ?? 0, body, what: `response broken: ${err.message}` }));
      res.on('end', () => {
        const status = res.statusCode ?? 0;
        if (status !== 200) return done({ ok: false, status, body, what: `status ${status}: ${body.slice(0, 160).replace(/\s+/g, ' ')}` });
        let caller: unknown;
        try {
          caller = (JSON.parse(body) as { caller?: unknown }).caller;
        } catch {
          caller = undefined;
        }
        if (caller !== expected) return done({ ok: false, status, body, what: `the backend saw caller ${String(caller)}, expected ${expected}` });
        done({ ok: true, status, body });
      });
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 10s')));
    req.on('error', (err: NodeJS.ErrnoException) => done({ ok: false, status: 0, body: '', what: `${err.code ?? 'error'}: ${err.message}` }));
  });
}

async function worker(n: number): Promise<void> {
  let i = 0;
  while (running) {
    await call(`/api/orders?worker=${n}&n=${i++}`);
    await new Promise((r) => setTimeout(r, PAUSE_MS));
  }
}

function json(res: http.ServerResponse, status: number, value: unknown): void {
  const body = `${JSON.stringify(value, null, 2)}\n`;
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

const server = http.createServer((req, res) => {
  const path = (req.url ?? '/').split('?')[0];
  if (req.method === 'POST' && path === '/start') {
    if (!running) {
      running = true;
      workers = Array.from({ length: WORKERS }, (_, n) => worker(n));
    }
    return json(res, 200, stats);
  }
  if (req.method === 'POST' && path === '/stop') {
    running = false;
    void Promise.all(workers).then(() => json(res, 200, stats));
    return;
  }
  if (path === '/stats') return json(res, 200, stats);
  if (path === '/') {
    void call('/hello-from-curl').then((o) => json(res, o.ok ? 200 : 502, { through: 'frontend sidecar -> mTLS -> backend sidecar', status: o.status, answer: safeParse(o.body), problem: o.what }));
    return;
  }
  json(res, 404, { error: 'try / or /stats' });
});

function safeParse(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    return body;
  }
}

server.listen(port, '127.0.0.1', () => process.stdout.write(`frontend app listening on 127.0.0.1:${port}\n`));
server.on('error', (err: NodeJS.ErrnoException) => {
  process.stderr.write(`frontend app: cannot listen on 127.0.0.1:${port}: ${err.code === 'EADDRINUSE' ? 'address already in use' : err.message}\n`);
  process.exit(1);
});
process.once('SIGTERM', () => {
  running = false;
  agent.destroy();
  server.close(() => process.exit(0));
  server.closeAllConnections();
});

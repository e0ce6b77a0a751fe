// The sidecar side of probe rewriting, against real local servers: the app's
// probe answers decide the sidecar's, headers and scheme are honoured, a slow
// or absent app fails the probe, and an unknown probe is a 404.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import { createServer as createH2cServer, constants as h2 } from 'node:http2';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppProbeConfig } from '../config/schema.js';
import { issueLeaf, makeCa } from '../../../injector/src/testing/pki.js';
import { createAppHealthHandler } from './app-health.js';

const servers: (Server | TcpServer)[] = [];
const listen = <S extends Server | TcpServer>(s: S): Promise<number> =>
  new Promise((resolve) => {
    servers.push(s);
    s.listen(0, '127.0.0.1', () => resolve((s.address() as AddressInfo).port));
  });

let seen: IncomingHttpHeaders[] = [];
let appPort: number;
let httpsPort: number;
let silentPort: number;
let tcpPort: number;
let closedPort: number;
let grpcPort: number;
const grpcSeen: string[] = [];
let adminPort: number;
let tmp: string;

const http = (get: Partial<NonNullable<AppProbeConfig['httpGet']>> & { port: number }, timeoutSeconds = 1): AppProbeConfig => ({
  httpGet: { path: '/', scheme: 'HTTP', httpHeaders: [], ...get },
  timeoutSeconds,
});

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'tlsmesh-app-health-'));
  const app = createServer((req, res) => {
    seen.push(req.headers);
    const code = Number(req.url!.slice(1)) || 200;
    res.writeHead(code, code === 302 ? { location: '/elsewhere' } : {}).end('body');
  });
  appPort = await listen(app);
  const ca = makeCa(join(tmp, 'ca'));
  const leaf = issueLeaf(ca, { sans: ['DNS:app.internal'], usage: 'server' });
  httpsPort = await listen(createHttpsServer({ cert: leaf.certPem, key: leaf.keyPem }, (_req, res) => res.writeHead(204).end()));
  silentPort = await listen(createServer(() => undefined));
  tcpPort = await listen(createTcpServer((s) => s.end()));
  // Nothing listens on port 1 (tcpmux): a port closed by us could be taken by another test meanwhile.
  closedPort = 1;

  // A gRPC health server by the protocol (HTTP/2, length-prefixed protobuf, grpc-status trailer):
  // service "" SERVING, "db" NOT_SERVING, "gone" NOT_FOUND (grpc-status 5), "empty" an empty message (UNKNOWN).
  const h2server = createH2cServer();
  h2server.on('stream', (stream, headers) => {
    const chunks: Buffer[] = [];
    stream.on('data', (d: Buffer) => chunks.push(d));
    stream.on('end', () => {
      const body = Buffer.concat(chunks);
      const msg = body.subarray(5, 5 + body.readUInt32BE(1));
      const service = msg.length ? msg.subarray(2, 2 + msg[1]!).toString() : '';
      grpcSeen.push(`${String(headers[':path'])} ${String(headers['content-type'])} ${JSON.stringify(service)}`);
      stream.respond({ [h2.HTTP2_HEADER_STATUS]: 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': service === 'gone' ? '5' : '0' }));
      const answer = service === 'gone' ? Buffer.alloc(0) : service === 'empty' ? Buffer.from([0, 0, 0, 0, 0]) : Buffer.from([0, 0, 0, 0, 2, 0x08, service === 'db' ? 2 : 1]);
      stream.end(answer);
    });
  });
  grpcPort = await listen(h2server as unknown as Server);

  const handler = createAppHealthHandler({
    'grpc/livez': { grpc: { port: grpcPort, service: '' }, timeoutSeconds: 1 },
    'grpc/readyz': { grpc: { port: grpcPort, service: 'db' }, timeoutSeconds: 1 },
    'grpc/startupz': { grpc: { port: grpcPort, service: 'gone' }, timeoutSeconds: 1 },
    'grpc2/livez': { grpc: { port: grpcPort, service: 'empty' }, timeoutSeconds: 1 },
    'grpc2/readyz': { grpc: { port: appPort, service: '' }, timeoutSeconds: 1 },
    'app/livez': http({ port: appPort, path: '/200' }),
    'app/readyz': http({ port: appPort, path: '/503' }),
    'app/startupz': http({ port: appPort, path: '/302' }),
    'hdr/livez': http({ port: appPort, path: '/200', httpHeaders: [{ name: 'Host', value: 'app.example.com' }, { name: 'X-Probe', value: 'yes' }] }),
    'tls/livez': http({ port: httpsPort, scheme: 'HTTPS' }),
    'slow/livez': http({ port: silentPort }, 0.2),
    'gone/livez': http({ port: closedPort }),
    'tcp/livez': { tcpSocket: { port: tcpPort }, timeoutSeconds: 1 },
    'tcp/readyz': { tcpSocket: { port: closedPort }, timeoutSeconds: 1 },
  });
  adminPort = await listen(createServer((req, res) => handler(req, res, req.url!.split('?')[0]!)));
});

afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  rmSync(tmp, { recursive: true, force: true });
});

function get(path: string, method = 'GET', headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: adminPort, path, method, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('app-health', () => {
  it.each([
    ['/app-health/app/livez', 200, () => 'app answered 200\n'],
    ['/app-health/app/readyz', 503, () => 'app answered 503\n'],
    ['/app-health/app/startupz', 200, () => 'app answered 302\n'],
    ['/app-health/tls/livez', 200, () => 'app answered 204\n'],
    ['/app-health/slow/livez', 503, () => 'no answer from the app within 200 ms\n'],
    ['/app-health/gone/livez', 503, () => 'app unreachable: ECONNREFUSED\n'],
    ['/app-health/tcp/livez', 200, () => `port ${tcpPort} open\n`],
    ['/app-health/tcp/readyz', 503, () => `port ${closedPort}: ECONNREFUSED\n`],
    ['/app-health/grpc/livez', 200, () => 'gRPC health SERVING\n'],
    ['/app-health/grpc/readyz', 503, () => 'gRPC health NOT_SERVING\n'],
    ['/app-health/grpc/startupz', 503, () => 'gRPC health check answered grpc-status 5\n'],
    ['/app-health/grpc2/livez', 503, () => 'gRPC health UNKNOWN\n'],
    ['/app-health/nope/livez', 404, () => 'no app probe "nope/livez"\n'],
    ['/app-health/', 404, () => 'no app probe ""\n'],
  ])('%s -> %i', async (path, status, body) => {
    expect(await get(path)).toEqual({ status, body: body() });
  });

  it('an HTTP/1.1 app fails a grpc probe', async () => {
    const r = await get('/app-health/grpc2/readyz');
    expect(r.status).toBe(503);
    expect(r.body).toMatch(/^(app unreachable|gRPC health check failed): [A-Z0-9_]+\n$/);
  });

  it('calls Health/Check with the service name, as gRPC', async () => {
    grpcSeen.length = 0;
    await get('/app-health/grpc/readyz');
    expect(grpcSeen).toEqual(['/grpc.health.v1.Health/Check application/grpc "db"']);
  });

  it("sends the probe's headers (Host included) and kubelet's user agent", async () => {
    seen = [];
    await get('/app-health/hdr/livez', 'GET', { 'user-agent': 'kube-probe/1.31' });
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ host: 'app.example.com', 'x-probe': 'yes', 'user-agent': 'kube-probe/1.31' });
  });

  it('answers HEAD without a body and refuses POST', async () => {
    expect(await get('/app-health/app/livez', 'HEAD')).toEqual({ status: 200, body: '' });
    expect((await get('/app-health/app/livez', 'POST')).status).toBe(405);
  });
});

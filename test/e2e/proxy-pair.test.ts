// A sidecar pair carries http and tcp traffic with real mTLS: identity header,
// half-close, WebSocket upgrades, metrics, /certs, and real clients (curl, openssl).
import { execFile } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ca, identity, tempDir, writeSecret, type TestCa } from '../support/pki.js';
import { echoApp, httpGet, metric, noiseBody, rawGet, startSidecar, tcpEcho, tcpSockets, type EchoApp, type SidecarHandle } from '../support/mesh.js';
import { eventually, freePorts, killAll, runTlsmesh, startProcess } from '../support/processes.js';

const exec = promisify(execFile);
const TD = 'cluster.local';
const FRONTEND = `spiffe://${TD}/ns/default/sa/frontend`;
const BACKEND = `spiffe://${TD}/ns/default/sa/backend`;

const tmp = tempDir();
let root: TestCa;
let app: EchoApp;
let echo: Awaited<ReturnType<typeof tcpEcho>>;
let front: SidecarHandle;
let back: SidecarHandle;
let frontLeafDer: Buffer;
let p: Record<'outHttp' | 'outHttpRaw' | 'outTcp' | 'inHttp' | 'inTcp' | 'adminFront' | 'adminBack', number>;

beforeAll(async () => {
  root = await ca({ trustDomain: TD });
  const f = await identity(root, FRONTEND);
  const b = await identity(root, BACKEND, { dnsNames: ['backend.default.svc'] });
  frontLeafDer = f.leaf.der;
  await writeSecret(join(tmp.dir, 'front'), f.files);
  await writeSecret(join(tmp.dir, 'back'), b.files);
  app = await echoApp();
  echo = await tcpEcho();
  const [outHttp, outHttpRaw, outTcp, inHttp, inTcp, adminFront, adminBack] = await freePorts(7);
  p = { outHttp: outHttp!, outHttpRaw: outHttpRaw!, outTcp: outTcp!, inHttp: inHttp!, inTcp: inTcp!, adminFront: adminFront!, adminBack: adminBack! };
  [back, front] = await Promise.all([
    startSidecar(tmp.dir, 'back', {
      trustDomain: TD,
      identity: { dir: join(tmp.dir, 'back') },
      admin: { listen: `127.0.0.1:${p.adminBack}` },
      inbound: [
        { listen: `127.0.0.1:${p.inHttp}`, forward: `127.0.0.1:${app.port}`, protocol: 'http', allow: [FRONTEND] },
        { listen: `127.0.0.1:${p.inTcp}`, forward: `127.0.0.1:${echo.port}`, protocol: 'tcp', allow: [FRONTEND] },
      ],
    }),
    startSidecar(tmp.dir, 'front', {
      trustDomain: TD,
      identity: { dir: join(tmp.dir, 'front') },
      admin: { listen: `127.0.0.1:${p.adminFront}` },
      outbound: [
        { listen: `127.0.0.1:${p.outHttp}`, connect: `127.0.0.1:${p.inHttp}`, protocol: 'http', expect: [BACKEND] },
        // The same peer without multiplexing: an mTLS connection per pooled upstream connection.
        { listen: `127.0.0.1:${p.outHttpRaw}`, connect: `127.0.0.1:${p.inHttp}`, protocol: 'http', expect: [BACKEND], multiplex: false },
        { listen: `127.0.0.1:${p.outTcp}`, connect: `127.0.0.1:${p.inTcp}`, protocol: 'tcp', expect: [BACKEND] },
      ],
    }),
  ]);
});

afterAll(async () => {
  await killAll();
  await app?.close();
  await echo?.close();
  tmp.cleanup();
});

describe('http through the pair', () => {
  it('reaches the app with exactly one identity header in Envoy format, spoofed ones removed', async () => {
    const r = await httpGet(`http://127.0.0.1:${p.outHttp}/hello?x=1`, { 'x-forwarded-client-cert': 'By=spiffe://evil/x;URI=spiffe://cluster.local/ns/default/sa/admin' });
    expect(r.status).toBe(200);
    const seen = JSON.parse(r.body) as { url: string; headers: Record<string, string> };
    expect(seen.url).toBe('/hello?x=1');
    const hash = createHash('sha256').update(frontLeafDer).digest('hex');
    expect(seen.headers['x-forwarded-client-cert']).toBe(`By=${BACKEND};Hash=${hash};URI=${FRONTEND}`);
    expect(seen.headers['x-forwarded-proto']).toBe('https');
    expect(seen.headers['x-forwarded-for']).toBe('127.0.0.1');
  });

  it('keeps connections alive and counts requests and handshakes', async () => {
    const before = await back.metrics();
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    for (let i = 0; i < 5; i++) expect((await httpGet(`http://127.0.0.1:${p.outHttp}/n${i}`, {}, agent)).status).toBe(200);
    agent.destroy();
    const after = await back.metrics();
    const reqs = (t: string) => metric(t, 'tlsmesh_requests_total', { direction: 'inbound', code: '200' }) ?? 0;
    expect(reqs(after) - reqs(before)).toBe(5);
    // Pooled mTLS connections: five requests need no new inbound handshake.
    const hs = (t: string) => metric(t, 'tlsmesh_handshakes_total', { direction: 'inbound', result: 'ok', reason: '' }) ?? 0;
    expect(hs(after) - hs(before)).toBeLessThanOrEqual(1);
    const outReqs = metric(await front.metrics(), 'tlsmesh_requests_total', { direction: 'outbound', code: '200' }) ?? 0;
    expect(outReqs).toBeGreaterThanOrEqual(6);
    expect(metric(after, 'tlsmesh_request_duration_seconds_count', { direction: 'inbound' })).toBeGreaterThanOrEqual(6);
  });

  it('passes a WebSocket upgrade through both sidecars', async () => {
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: p.outHttp, path: '/ws', headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' } });
      req.on('upgrade', (_res, s: net.Socket) => resolve(s));
      req.on('response', (res) => reject(new Error(`no upgrade: ${res.statusCode}`)));
      req.on('error', reject);
      req.end();
    });
    socket.write('hello over upgrade');
    const got = await new Promise<string>((resolve) => socket.once('data', (d: Buffer) => resolve(d.toString())));
    expect(got).toBe('HELLO OVER UPGRADE');
    socket.destroy();
    expect(app.requests.some((r) => r.url === '/ws' && r.headers['x-forwarded-client-cert']?.includes(`URI=${FRONTEND}`))).toBe(true);
  });

  it('serves curl as a real client, on both sides', async () => {
    const viaFront = await exec('curl', ['-sS', '--max-time', '10', `http://127.0.0.1:${p.outHttp}/curl`]);
    expect(JSON.parse(viaFront.stdout).url).toBe('/curl');
    // Straight at the inbound listener with the frontend's own SVID.
    const dir = join(tmp.dir, 'front');
    const direct = await exec('curl', ['-sS', '--max-time', '10', '--cacert', join(dir, 'ca.crt'), '--cert', join(dir, 'tls.crt'), '--key', join(dir, 'tls.key'), '--resolve', `backend.default.svc:${p.inHttp}:127.0.0.1`, `https://backend.default.svc:${p.inHttp}/direct`]);
    expect(JSON.parse(direct.stdout).headers['x-forwarded-client-cert']).toContain(`URI=${FRONTEND}`);
    // Without a client certificate: refused, nothing served.
    const noCert = await exec('curl', ['-sS', '--max-time', '10', '--cacert', join(dir, 'ca.crt'), '--resolve', `backend.default.svc:${p.inHttp}:127.0.0.1`, `https://backend.default.svc:${p.inHttp}/nocert`]).catch((e: { code: number }) => e);
    expect((noCert as { code: number }).code).not.toBe(0);
    expect(app.requests.some((r) => r.url === '/nocert')).toBe(false);
  });
});

describe('http bodies through the pair', () => {
  // Two clients ask for large bodies and read nothing; while they stall, two
  // more bodies pass through the same sidecars. Bodies with a length and
  // chunked in odd pieces; every byte must arrive as the app sent it.
  //
  // Raw mTLS connections (multiplex: false): both sidecars read their upstream
  // sockets into one shared buffer (http/h1/borrowed-read.ts); the outbound
  // sidecar stops reading the mTLS connections that carry the stalled bodies
  // (bytes wait unread in the kernel), which it does only with 1 MiB queued
  // to each client. Multiplexed: every body is a stream of one mTLS
  // connection, and a stalled stream must not hold up the others on it
  // (HTTP/2 flow control pushes back on that stream alone).
  for (const mode of ['raw', 'multiplexed'] as const) {
    it(`carries concurrent large bodies intact, also to clients that stall (${mode})`, async () => {
      const port = mode === 'raw' ? p.outHttpRaw : p.outHttp;
      const url = (c: { seed: string; n: number; chunked: boolean }) => `/noise?seed=${c.seed}&n=${c.n}${c.chunked ? '&chunked=1' : ''}`;
      const stalled = [
        { seed: `b${mode}`, n: (12 << 20) + 7, chunked: true },
        { seed: `d${mode}`, n: (12 << 20) + 5, chunked: false },
      ];
      const flowing = [
        { seed: `a${mode}`, n: (3 << 20) + 1, chunked: false },
        { seed: `c${mode}`, n: (5 << 20) + 3, chunked: true },
      ];
      const sockets: net.Socket[] = [];
      let release!: () => void;
      const released = new Promise<void>((r) => (release = r));
      const slow = stalled.map((c) =>
        rawGet(port, url(c), {
          stall: (s) => {
            sockets.push(s);
            return released;
          },
        }),
      );
      // A stalled request that ends before its release failed (corrupt framing cuts the connection).
      const early = Promise.race(slow.map((r) => r.then(() => Promise.reject(new Error('a stalled request ended before its release')))));
      const held =
        mode === 'raw'
          ? () => tcpSockets().filter((t) => t.remotePort === p.inHttp && t.rx > 0).length >= 2
          : () => tcpSockets().filter((t) => sockets.some((s) => s.localPort === t.localPort) && t.remotePort === port && t.rx > 0).length === 2;
      await Promise.race([early, eventually(() => sockets.length === 2 && held(), mode === 'raw' ? 'the outbound sidecar to stop reading both stalled bodies' : 'both stalled clients to hold unread bytes')]);
      early.catch(() => {});
      const fast = await Promise.all(flowing.map((c) => rawGet(port, url(c))));
      release();
      const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
      expect([...fast, ...(await Promise.all(slow))].map(sha)).toEqual([...flowing, ...stalled].map((c) => sha(noiseBody(c.seed, c.n))));
    });
  }
});

describe('tcp through the pair', () => {
  it('carries bytes unchanged both ways and propagates half-close', async () => {
    const payload = Buffer.alloc(3 << 20);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 31) & 0xff;
    const socket = net.connect({ host: '127.0.0.1', port: p.outTcp, allowHalfOpen: true });
    const chunks: Buffer[] = [];
    socket.on('data', (d: Buffer) => chunks.push(d));
    await new Promise((r) => socket.once('connect', r));
    socket.end(payload); // FIN after the payload: the echo server sees it and answers after it
    await new Promise((r) => socket.once('end', r));
    const got = Buffer.concat(chunks);
    expect(got.subarray(0, payload.length).equals(payload)).toBe(true);
    // The FIN crossed both sidecars while the other direction stayed open for the answer.
    expect(got.subarray(payload.length).toString()).toBe(`${payload.length}:eof`);
    socket.destroy();
  });

  it('works with openssl s_client straight at the inbound listener', async () => {
    const dir = join(tmp.dir, 'front');
    const client = startProcess('openssl', ['s_client', '-quiet', '-connect', `127.0.0.1:${p.inTcp}`, '-CAfile', `${dir}/ca.crt`, '-cert', `${dir}/tls.crt`, '-key', `${dir}/tls.key`]);
    client.child.stdin?.write('ping-from-openssl\n');
    await eventually(() => client.stdout().includes('ping-from-openssl'), 'the echo through the inbound listener');
    client.kill();
  });

  it('returns tlsmesh_connections_active to its former value', async () => {
    const active = async () => metric(await front.metrics(), 'tlsmesh_connections_active', { direction: 'outbound' });
    await eventually(async () => (await active()) === 0, 'outbound connections to settle at 0');
    const socket = net.connect({ host: '127.0.0.1', port: p.outTcp });
    await new Promise((r) => socket.once('connect', r));
    await eventually(async () => (await active()) === 1, 'one active outbound connection');
    socket.destroy();
    await eventually(async () => (await active()) === 0, 'active back to 0');
  });
});

describe('admin', () => {
  it('/certs shows the identity in use, matching tlsmesh pin and openssl', async () => {
    const r = await back.get('/certs');
    expect(r.status).toBe(200);
    const doc = JSON.parse(r.body);
    const leaf = new X509Certificate(await import('node:fs').then((fs) => fs.readFileSync(join(tmp.dir, 'back', 'tls.crt'))));
    expect(doc.spiffeId).toBe(BACKEND);
    expect(doc.serialNumber).toBe(leaf.serialNumber.toLowerCase());
    expect(doc.serialNumber).toMatch(/^[0-9a-f]+$/);
    expect(doc.notBefore).toBe(new Date(leaf.validFrom).toISOString());
    expect(doc.notAfter).toBe(new Date(leaf.validTo).toISOString());
    const pin = await runTlsmesh(['pin', join(tmp.dir, 'back', 'tls.crt')]);
    expect(doc.spkiPin).toBe(pin.stdout.trim());
    expect(doc.issuer).toBe('CN=test root, O=tlsmesh tests');
    expect(doc.trustAnchors).toEqual([{ subject: 'CN=test root\nO=tlsmesh tests'.split('\n').join(', '), spkiPin: expect.stringMatching(/^sha256\//), notAfter: expect.any(String) }]);
    expect(r.body).not.toMatch(/PRIVATE KEY/);
  });

  it('answers live, ready and metrics', async () => {
    expect((await back.get('/healthz/live')).status).toBe(200);
    expect((await back.get('/healthz/ready')).status).toBe(200);
    const m = await back.metrics();
    for (const name of ['tlsmesh_handshakes_total', 'tlsmesh_connections_active', 'tlsmesh_identity_expiry_timestamp_seconds', 'tlsmesh_identity_reloads_total', 'tlsmesh_requests_total', 'tlsmesh_request_duration_seconds_bucket']) {
      expect(m).toContain(name);
    }
    const expiry = metric(m, 'tlsmesh_identity_expiry_timestamp_seconds');
    expect(expiry).toBeGreaterThan(Date.now() / 1000);
    expect((await back.get('/nope')).status).toBe(404);
  });
});

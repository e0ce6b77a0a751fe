// Rotation under continuous load: keep-alive and new-connection clients run
// through a sidecar pair while both identities rotate several times a second
// (kubelet-style `..data` swaps, new keys). No request may fail; each new
// serial is observed by a real handshake; a TCP connection opened before the
// first rotation still carries data after the last.
import { createHash, X509Certificate } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ca, identity, tempDir, writeSecret, type TestCa } from '../support/pki.js';
import { echoApp, metric, startSidecar, tcpEcho, type EchoApp, type SidecarHandle } from '../support/mesh.js';
import { eventually, freePorts, killAll } from '../support/processes.js';
import { servedSerial } from '../support/observe.js';

const TD = 'cluster.local';
const FRONTEND = `spiffe://${TD}/ns/default/sa/frontend`;
const BACKEND = `spiffe://${TD}/ns/default/sa/backend`;
const LOAD_MS = 10_000;
const MIN_ROTATIONS = 5;

const tmp = tempDir();
let root: TestCa;
let app: EchoApp;
let echo: Awaited<ReturnType<typeof tcpEcho>>;
let front: SidecarHandle;
let back: SidecarHandle;
let p: Record<'outHttp' | 'outTcp' | 'inHttp' | 'inTcp' | 'a1' | 'a2', number>;
let frontFiles: { cert: string; key: string; ca: string };

beforeAll(async () => {
  root = await ca({ trustDomain: TD });
  frontFiles = (await identity(root, FRONTEND)).files;
  await writeSecret(join(tmp.dir, 'front'), frontFiles);
  await writeSecret(join(tmp.dir, 'back'), (await identity(root, BACKEND)).files);
  app = await echoApp();
  echo = await tcpEcho();
  const ports = await freePorts(6);
  p = { outHttp: ports[0]!, outTcp: ports[1]!, inHttp: ports[2]!, inTcp: ports[3]!, a1: ports[4]!, a2: ports[5]! };
  [back, front] = await Promise.all([
    startSidecar(tmp.dir, 'back', {
      trustDomain: TD,
      logLevel: 'warn',
      identity: { dir: join(tmp.dir, 'back') },
      admin: { listen: `127.0.0.1:${p.a2}` },
      inbound: [
        { listen: `127.0.0.1:${p.inHttp}`, forward: `127.0.0.1:${app.port}`, protocol: 'http', allow: [FRONTEND] },
        { listen: `127.0.0.1:${p.inTcp}`, forward: `127.0.0.1:${echo.port}`, allow: [FRONTEND] },
      ],
    }),
    startSidecar(tmp.dir, 'front', {
      trustDomain: TD,
      logLevel: 'warn',
      identity: { dir: join(tmp.dir, 'front') },
      admin: { listen: `127.0.0.1:${p.a1}` },
      outbound: [
        { listen: `127.0.0.1:${p.outHttp}`, connect: `127.0.0.1:${p.inHttp}`, protocol: 'http', expect: [BACKEND] },
        { listen: `127.0.0.1:${p.outTcp}`, connect: `127.0.0.1:${p.inTcp}`, expect: [BACKEND] },
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

function request(agent: http.Agent | false, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port: p.outHttp, path, agent, timeout: 15_000 }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', (e) => resolve({ status: -1, body: e.message }));
    });
    req.on('error', (e) => resolve({ status: -1, body: e.message }));
    req.on('timeout', () => req.destroy(new Error(`no answer within 15 s for ${path}`)));
  });
}

it('rotates both identities several times a second under load with zero failed requests', async () => {
  // A long-lived tcp connection, opened before the first rotation.
  const longLived = net.connect({ host: '127.0.0.1', port: p.outTcp });
  let longData = '';
  longLived.on('data', (d: Buffer) => (longData += d.toString()));
  await new Promise((r) => longLived.once('connect', r));
  longLived.write('before;');
  await eventually(() => longData.includes('before;'), 'the long-lived connection to echo');

  let stop = false;
  const failures: string[] = [];
  let ok = 0;
  const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 4 });
  const worker = async (agent: http.Agent | false, name: string) => {
    let i = 0;
    while (!stop) {
      const r = await request(agent, `/${name}/${i++}`);
      if (r.status === 200) ok += 1;
      else failures.push(`${name} ${r.status} ${r.body.slice(0, 200)}`);
    }
  };
  // Certificates are made before the load starts (key generation is CPU the sidecars need).
  const backIds = await Promise.all(Array.from({ length: 40 }, () => identity(root, BACKEND)));
  const frontIds = await Promise.all(Array.from({ length: 40 }, () => identity(root, FRONTEND)));
  const workers = [worker(keepAlive, 'ka1'), worker(keepAlive, 'ka2'), worker(false, 'new1')];

  const backLatencies: number[] = [];
  const frontLatencies: number[] = [];
  const started = Date.now();
  let rotations = 0;
  while ((Date.now() - started < LOAD_MS || rotations < MIN_ROTATIONS) && rotations < backIds.length) {
    // The server side: its new certificate is what a new handshake gets.
    const b = backIds[rotations]!;
    const serial = b.leaf.cert.serialNumber.toLowerCase();
    await writeSecret(join(tmp.dir, 'back'), b.files);
    const t0 = Date.now();
    await eventually(async () => (await servedSerial(p.inHttp, { ca: root.certPem, cert: frontFiles.cert, key: frontFiles.key })) === serial, 'the new backend serial in a handshake', 15_000, 10);
    backLatencies.push(Date.now() - t0);
    // The client side: its new certificate is what the backend app sees in the identity header.
    const f = frontIds[rotations]!;
    const hash = createHash('sha256').update(new X509Certificate(f.files.cert).raw).digest('hex');
    await writeSecret(join(tmp.dir, 'front'), f.files);
    frontFiles = f.files;
    const t1 = Date.now();
    await eventually(async () => (await request(false, '/probe')).body.includes(`Hash=${hash}`), 'the new frontend certificate in the identity header', 15_000, 10);
    frontLatencies.push(Date.now() - t1);
    rotations += 1;
  }
  stop = true;
  const loopSeconds = (Date.now() - started) / 1000;
  await Promise.all(workers);
  keepAlive.destroy();

  const elapsed = (Date.now() - started) / 1000;
  console.log(
    `${rotations} rotations of each identity in ${loopSeconds.toFixed(1)} s (${((2 * rotations) / loopSeconds).toFixed(1)}/s; load ran ${elapsed.toFixed(1)} s); ${ok} requests ok, ${failures.length} failed; ` +
      `new serial seen after median ${median(backLatencies)} ms (worst ${Math.max(...backLatencies)} ms); new client certificate seen after median ${median(frontLatencies)} ms (worst ${Math.max(...frontLatencies)} ms)`,
  );
  expect(failures).toEqual([]);
  expect(rotations).toBeGreaterThanOrEqual(3);
  expect(ok).toBeGreaterThan(rotations);

  longLived.write('after;');
  await eventually(() => longData.includes('after;'), 'the long-lived connection to still carry data');
  longLived.destroy();

  const reloads = metric(await back.metrics(), 'tlsmesh_identity_reloads_total', { result: 'ok' });
  expect(reloads).toBeGreaterThanOrEqual(rotations + 1);
  expect(metric(await back.metrics(), 'tlsmesh_identity_reloads_total', { result: 'error' })).toBe(0);
  expect(metric(await front.metrics(), 'tlsmesh_connections_recycled_total', { direction: 'outbound', cause: 'identity_rotated' })).toBeGreaterThan(0);
}, 300_000);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
}

// Outbound: the sidecar checks the server it dials. A server with the wrong
// identity never gets a byte of the app's data; the reason is counted; http
// apps get a 502 that says why.
import { once } from 'node:events';
import { join } from 'node:path';
import net from 'node:net';
import tls from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ca, EKU_CLIENT_AUTH, identity, leaf, tempDir, writeSecret, type Issued, type TestCa } from '../support/pki.js';
import { httpGet, metric, startSidecar, type SidecarHandle } from '../support/mesh.js';
import { eventually, freePorts, killAll } from '../support/processes.js';
import { spkiPinOf } from '../../proxy/src/identity/pin.js';

const TD = 'cluster.local';
const BACKEND = `spiffe://${TD}/ns/default/sa/backend`;
const tmp = tempDir();
let root: TestCa;
let foreign: TestCa;
let side: SidecarHandle;
let ports: Record<'tcp' | 'pinned' | 'http' | 'fake' | 'admin', number>;
let fake: tls.Server;
let fakeBytes = 0;
let good: Issued;

function serveAs(cert: Issued): void {
  fake.setSecureContext({ key: cert.key.privatePem, cert: cert.certPem, ca: root.certPem });
}

beforeAll(async () => {
  root = await ca({ trustDomain: TD });
  foreign = await ca({ name: 'foreign' });
  good = await leaf({ issuer: root, spiffeId: BACKEND });
  const me = await identity(root, `spiffe://${TD}/ns/default/sa/frontend`);
  await writeSecret(join(tmp.dir, 'id'), me.files);
  const [tcp, pinned, http, fakePort, admin] = await freePorts(5);
  ports = { tcp: tcp!, pinned: pinned!, http: http!, fake: fakePort!, admin: admin! };
  // The impostor: a TLS server that asks for a client certificate like a sidecar and counts any byte it gets.
  fake = tls.createServer({ requestCert: true, rejectUnauthorized: false }, (s) => {
    s.on('data', (d: Buffer) => {
      fakeBytes += d.length;
      s.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
    });
    s.on('error', () => {});
  });
  serveAs(good);
  fake.listen(ports.fake, '127.0.0.1');
  await once(fake, 'listening');
  const target = `127.0.0.1:${ports.fake}`;
  side = await startSidecar(tmp.dir, 'side', {
    trustDomain: TD,
    clockSkewSeconds: 0,
    identity: { dir: join(tmp.dir, 'id') },
    admin: { listen: `127.0.0.1:${ports.admin}` },
    outbound: [
      { listen: `127.0.0.1:${ports.tcp}`, connect: target, expect: [BACKEND] },
      { listen: `127.0.0.1:${ports.pinned}`, connect: target, pins: [spkiPinOf(new X509Certificate(good.der)), spkiPinOf(new X509Certificate(foreign.der))] },
      { listen: `127.0.0.1:${ports.http}`, connect: target, protocol: 'http', expect: [BACKEND] },
    ],
  });
});

afterAll(async () => {
  await killAll();
  fake?.close();
  tmp.cleanup();
});

async function refusals(reason: string): Promise<number> {
  return metric(await side.metrics(), 'tlsmesh_handshakes_total', { direction: 'outbound', result: 'error', reason }) ?? -1;
}

/** Connect as the app, send a request, return what came back before the sidecar closed. */
function appSends(port: number): Promise<string> {
  return new Promise((resolve) => {
    let got = '';
    const s = net.connect({ host: '127.0.0.1', port }, () => s.write('GET / HTTP/1.1\r\nhost: x\r\n\r\n'));
    s.on('data', (d: Buffer) => {
      got += d.toString();
      if (got.endsWith('ok')) s.destroy();
    });
    s.on('error', () => {});
    s.on('close', () => resolve(got));
    setTimeout(() => s.destroy(), 5000);
  });
}

describe('outbound refusals', () => {
  it('the right server gets the app bytes (the control)', async () => {
    serveAs(good);
    const before = fakeBytes;
    expect(await appSends(ports.tcp)).toContain('200 OK');
    expect(fakeBytes).toBeGreaterThan(before);
  });

  const cases: [string, string, () => Promise<Issued>, 'tcp' | 'pinned'][] = [
    ['untrusted', 'a server certificate from another CA', () => leaf({ issuer: foreign, spiffeId: BACKEND }), 'tcp'],
    ['identity_denied', 'the right CA but another SPIFFE ID', () => leaf({ issuer: root, spiffeId: `spiffe://${TD}/ns/default/sa/impostor`, cn: 'backend' }), 'tcp'],
    ['expired', 'an expired server certificate', () => leaf({ issuer: root, spiffeId: BACKEND, notBefore: new Date(Date.now() - 7200_000), notAfter: new Date(Date.now() - 3600_000) }), 'tcp'],
    ['bad_svid', 'a server certificate only fit for client auth', () => leaf({ issuer: root, spiffeId: BACKEND, extKeyUsage: [EKU_CLIENT_AUTH] }), 'tcp'],
    ['pin_mismatch', 'a valid SVID whose key is not pinned', () => leaf({ issuer: root, spiffeId: BACKEND }), 'pinned'],
  ];

  it.each(cases)('%s: %s', async (reason, _what, make, listener) => {
    serveAs(await make());
    const before = await refusals(reason);
    const bytesBefore = fakeBytes;
    expect(await appSends(ports[listener])).toBe('');
    await eventually(async () => (await refusals(reason)) === before + 1, `${reason} counted`);
    expect(fakeBytes).toBe(bytesBefore);
  });

  it('a server certificate whose subjectAltName does not decode: refused as untrusted, and the sidecar keeps serving', async () => {
    serveAs(await leaf({ issuer: root, spiffeId: BACKEND, undecodableSan: true }));
    const before = await refusals('untrusted');
    const bytesBefore = fakeBytes;
    expect(await appSends(ports.tcp)).toBe('');
    await eventually(async () => (await refusals('untrusted')) === before + 1, 'untrusted counted');
    expect(fakeBytes).toBe(bytesBefore);
    serveAs(good);
    expect(await appSends(ports.tcp)).toContain('200 OK');
  });

  it('an http app gets a 502 naming the reason, and the impostor gets nothing', async () => {
    serveAs(await leaf({ issuer: root, spiffeId: `spiffe://${TD}/ns/default/sa/impostor` }));
    const bytesBefore = fakeBytes;
    const r = await httpGet(`http://127.0.0.1:${ports.http}/secret`);
    expect(r.status).toBe(502);
    expect(r.body).toContain('identity_denied');
    expect(fakeBytes).toBe(bytesBefore);
  });

  it('resumes sessions to a peer and checks them again', async () => {
    serveAs(good);
    const resumed = async () => metric(await side.metrics(), 'tlsmesh_tls_resumptions_total', { direction: 'outbound' }) ?? 0;
    const before = await resumed();
    for (let i = 0; i < 3; i++) expect(await appSends(ports.tcp)).toContain('200 OK');
    expect(await resumed()).toBeGreaterThan(before);
  });
});

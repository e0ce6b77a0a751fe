// Every refusal reason, produced by a real bad certificate (or bad bytes)
// against a running sidecar: the handshake fails or the connection closes,
// nothing reaches the app, and the reason shows in tlsmesh_handshakes_total.
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ca, chainPem, identity, leaf, tempDir, writeSecret, type Issued, type TestCa } from '../support/pki.js';
import { metric, startSidecar, tcpEcho, type SidecarHandle } from '../support/mesh.js';
import { eventually, freePorts, killAll } from '../support/processes.js';
import { PARTIAL_CLIENT_HELLO, sendRaw, tryTls } from '../support/tls-client.js';
import { spkiPinOf } from '../../proxy/src/identity/pin.js';

const TD = 'cluster.local';
const FRONTEND = `spiffe://${TD}/ns/default/sa/frontend`;
const tmp = tempDir();
let root: TestCa;
let inter: TestCa;
let foreign: TestCa;
let side: SidecarHandle;
let echo: Awaited<ReturnType<typeof tcpEcho>>;
let echoConnections = 0;
let ports: Record<'allow' | 'pinCa' | 'pinLeaf' | 'pinInter' | 'admin', number>;
let frontend: Issued;
let other: Issued;

beforeAll(async () => {
  root = await ca({ name: 'root', trustDomain: TD });
  inter = await ca({ name: 'intermediate', issuer: root });
  foreign = await ca({ name: 'foreign root' });
  const me = await identity(root, `spiffe://${TD}/ns/default/sa/backend`);
  await writeSecret(join(tmp.dir, 'id'), me.files);
  frontend = await leaf({ issuer: root, spiffeId: FRONTEND });
  other = await leaf({ issuer: root, spiffeId: `spiffe://${TD}/ns/default/sa/other` });
  echo = await tcpEcho();
  const [allow, pinCa, pinLeaf, pinInter, admin] = await freePorts(5);
  ports = { allow: allow!, pinCa: pinCa!, pinLeaf: pinLeaf!, pinInter: pinInter!, admin: admin! };
  const fwd = `127.0.0.1:${echo.port}`;
  side = await startSidecar(tmp.dir, 'side', {
    trustDomain: TD,
    handshakeTimeoutSeconds: 1,
    clockSkewSeconds: 0,
    identity: { dir: join(tmp.dir, 'id') },
    admin: { listen: `127.0.0.1:${ports.admin}` },
    inbound: [
      { listen: `127.0.0.1:${ports.allow}`, forward: fwd, allow: [FRONTEND, `spiffe://${TD}/ns/monitoring/*`] },
      { listen: `127.0.0.1:${ports.pinCa}`, forward: fwd, pins: [spkiPinOf(new X509Certificate(root.der)), spkiPinOf(new X509Certificate(foreign.der))] },
      { listen: `127.0.0.1:${ports.pinLeaf}`, forward: fwd, pins: [spkiPinOf(new X509Certificate(frontend.der))] },
      { listen: `127.0.0.1:${ports.pinInter}`, forward: fwd, pins: [spkiPinOf(new X509Certificate(inter.der))] },
    ],
  });
  echo.onConnection = () => (echoConnections += 1);
});

afterAll(async () => {
  await killAll();
  await echo?.close();
  tmp.cleanup();
});

async function refusals(reason: string): Promise<number> {
  return metric(await side.metrics(), 'tlsmesh_handshakes_total', { direction: 'inbound', result: 'error', reason }) ?? -1;
}

async function expectRefused(reason: string, attempt: () => Promise<unknown>): Promise<void> {
  const before = await refusals(reason);
  const appBefore = echoConnections;
  const r = (await attempt()) as { data?: string };
  if (r && typeof r === 'object' && 'data' in r) expect(r.data).toBe('');
  await eventually(async () => (await refusals(reason)) === before + 1, `${reason} counted once`);
  expect(echoConnections).toBe(appBefore);
}

describe('inbound refusals, each with its true reason', () => {
  it('a valid SVID in the allow-list gets through (the control)', async () => {
    const r = await tryTls({ port: ports.allow, cert: frontend.certPem, key: frontend.key.privatePem, ca: root.certPem });
    expect(r.handshake).toBe(true);
    expect(r.data).toMatch(/^ping/);
  });

  const cases: [string, string, () => Promise<{ cert?: string; key?: string }>][] = [
    ['untrusted', 'a certificate from another CA', async () => {
      const l = await leaf({ issuer: foreign, spiffeId: FRONTEND });
      return { cert: l.certPem, key: l.key.privatePem };
    }],
    ['expired', 'an expired certificate from the right CA', async () => {
      const l = await leaf({ issuer: root, spiffeId: FRONTEND, notBefore: new Date(Date.now() - 7200_000), notAfter: new Date(Date.now() - 3600_000) });
      return { cert: l.certPem, key: l.key.privatePem };
    }],
    ['not_yet_valid', 'a certificate valid only from tomorrow', async () => {
      const l = await leaf({ issuer: root, spiffeId: FRONTEND, notBefore: new Date(Date.now() + 86_400_000) });
      return { cert: l.certPem, key: l.key.privatePem };
    }],
    ['no_peer_cert', 'no client certificate', async () => ({})],
    ['bad_svid', 'two URI SANs', async () => {
      const l = await leaf({ issuer: root, uris: [FRONTEND, `spiffe://${TD}/ns/x/sa/y`] });
      return { cert: l.certPem, key: l.key.privatePem };
    }],
    ['bad_svid', 'an SVID of another trust domain', async () => {
      const l = await leaf({ issuer: root, spiffeId: 'spiffe://evil.local/ns/default/sa/frontend' });
      return { cert: l.certPem, key: l.key.privatePem };
    }],
    ['bad_svid', 'no URI SAN at all', async () => {
      const l = await leaf({ issuer: root, dnsNames: ['frontend.default.svc'], cn: 'frontend' });
      return { cert: l.certPem, key: l.key.privatePem };
    }],
    ['identity_denied', 'a valid SVID not in the allow-list', async () => ({ cert: other.certPem, key: other.key.privatePem })],
    ['identity_denied', 'ns/monitoringx cannot pass for ns/monitoring/*', async () => {
      const l = await leaf({ issuer: root, spiffeId: `spiffe://${TD}/ns/monitoringx/sa/prometheus` });
      return { cert: l.certPem, key: l.key.privatePem };
    }],
    ['identity_denied', 'ns/monitoring itself is not below ns/monitoring/*', async () => {
      const l = await leaf({ issuer: root, spiffeId: `spiffe://${TD}/ns/monitoring` });
      return { cert: l.certPem, key: l.key.privatePem };
    }],
  ];

  it.each(cases)('%s: %s', async (reason, _what, make) => {
    const c = await make();
    await expectRefused(reason, () => tryTls({ port: ports.allow, ...c, ca: root.certPem }));
  });

  // Node and OpenSSL parse such a certificate (they decode an extension only
  // when they check it), and the sidecar reads the leaf before refusing: once
  // that threw out of the handshake handler and took the sidecar down.
  it('a certificate whose subjectAltName does not decode, from our CA or another: refused as untrusted, and the sidecar keeps serving', async () => {
    for (const issuer of [root, foreign]) {
      const l = await leaf({ issuer, spiffeId: FRONTEND, undecodableSan: true });
      await expectRefused('untrusted', () => tryTls({ port: ports.allow, cert: l.certPem, key: l.key.privatePem, ca: root.certPem }));
    }
    const good = await tryTls({ port: ports.allow, cert: frontend.certPem, key: frontend.key.privatePem, ca: root.certPem });
    expect(good.data).toMatch(/^ping/);
  });

  it('ns/monitoring/* admits a workload below it', async () => {
    const l = await leaf({ issuer: root, spiffeId: `spiffe://${TD}/ns/monitoring/sa/prometheus` });
    const r = await tryTls({ port: ports.allow, cert: l.certPem, key: l.key.privatePem, ca: root.certPem });
    expect(r.data).toMatch(/^ping/);
  });
});

describe('pins', () => {
  it('a pin on the CA admits any SVID it issued, and survives a new leaf key', async () => {
    for (const l of [frontend, other]) {
      const r = await tryTls({ port: ports.pinCa, cert: l.certPem, key: l.key.privatePem, ca: root.certPem });
      expect(r.data).toMatch(/^ping/);
    }
  });

  it('a pin on the leaf admits that leaf only', async () => {
    const ok = await tryTls({ port: ports.pinLeaf, cert: frontend.certPem, key: frontend.key.privatePem, ca: root.certPem });
    expect(ok.data).toMatch(/^ping/);
    await expectRefused('pin_mismatch', () => tryTls({ port: ports.pinLeaf, cert: other.certPem, key: other.key.privatePem, ca: root.certPem }));
  });

  it('a pin on an intermediate the peer sent', async () => {
    const viaInter = await leaf({ issuer: inter, spiffeId: FRONTEND });
    const ok = await tryTls({ port: ports.pinInter, cert: chainPem(viaInter, inter), key: viaInter.key.privatePem, ca: root.certPem });
    expect(ok.data).toMatch(/^ping/);
    await expectRefused('pin_mismatch', () => tryTls({ port: ports.pinInter, cert: frontend.certPem, key: frontend.key.privatePem, ca: root.certPem }));
  });

  it('pins never replace the chain: a pinned key from an untrusted CA is refused as untrusted', async () => {
    // Same key pair as the pinned leaf, but signed by a CA outside the bundle.
    const forged = await leaf({ issuer: foreign, spiffeId: FRONTEND, key: frontend.key });
    await expectRefused('untrusted', () => tryTls({ port: ports.pinLeaf, cert: forged.certPem, key: forged.key.privatePem, ca: root.certPem }));
  });
});

describe('bad bytes: refused, counted as protocol, and the sidecar keeps serving', () => {
  it.each([
    ['an HTTP request on the TLS port', () => sendRaw(ports.allow, Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'))],
    ['random garbage', () => sendRaw(ports.allow, Buffer.from('\x00\x01\x02garbage\xff\xfe'.repeat(50), 'latin1'))],
    ['half a ClientHello, then FIN', () => sendRaw(ports.allow, PARTIAL_CLIENT_HELLO, { endAfter: true })],
    ['half a ClientHello, then silence until the handshake timeout', () => sendRaw(ports.allow, PARTIAL_CLIENT_HELLO, { waitMs: 10_000 })],
  ])('%s', async (_what, attempt) => {
    await expectRefused('protocol', async () => {
      const r = await attempt();
      expect(r.closedByServer).toBe(true);
      return r;
    });
    const good = await tryTls({ port: ports.allow, cert: frontend.certPem, key: frontend.key.privatePem, ca: root.certPem });
    expect(good.data).toMatch(/^ping/);
  });
});

describe('session resumption', () => {
  it('is offered, and a resumed session is checked again: an expired client certificate is refused on resumption', async () => {
    const shortLived = await leaf({ issuer: root, spiffeId: FRONTEND, notBefore: new Date(Date.now() - 1000), notAfter: new Date(Date.now() + 3000) });
    const first = await tryTls({ port: ports.allow, cert: shortLived.certPem, key: shortLived.key.privatePem, ca: root.certPem });
    expect(first.data).toMatch(/^ping/);
    expect(first.session).toBeDefined();
    const second = await tryTls({ port: ports.allow, cert: shortLived.certPem, key: shortLived.key.privatePem, ca: root.certPem, session: first.session });
    expect(second.resumed).toBe(true);
    expect(second.data).toMatch(/^ping/);
    const resumedCount = metric(await side.metrics(), 'tlsmesh_tls_resumptions_total', { direction: 'inbound' });
    expect(resumedCount).toBeGreaterThanOrEqual(1);
    await eventually(() => Date.now() > shortLived.cert.notAfter.getTime() + 1000, 'the certificate to expire', 10_000, 100);
    await expectRefused('expired', async () => {
      const third = await tryTls({ port: ports.allow, cert: shortLived.certPem, key: shortLived.key.privatePem, ca: root.certPem, session: second.session ?? first.session });
      expect(third.resumed).toBe(true);
      return third;
    });
  });
});

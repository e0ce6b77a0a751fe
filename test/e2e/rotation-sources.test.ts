// What arrives in the Secret directory, and how the sidecar takes it: bad new
// material is refused while the old identity keeps serving; plain files
// replaced in place; a two-CA bundle during CA rotation; SIGHUP; the mount
// removed and restored; an identity that expires without renewal.
import { rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ca, generateKeyPair, identity, leaf, tempDir, writePlainSecret, writeSecret, type TestCa } from '../support/pki.js';
import { metric, startSidecar, tcpEcho, type SidecarHandle } from '../support/mesh.js';
import { eventually, freePorts, killAll } from '../support/processes.js';
import { servedSerial } from '../support/observe.js';
import { writeAtomic } from '../../proxy/src/ca/atomic-writer.js';
import { tryTls } from '../support/tls-client.js';

const TD = 'cluster.local';
const ME = `spiffe://${TD}/ns/default/sa/backend`;
const PEER = `spiffe://${TD}/ns/default/sa/frontend`;
const tmp = tempDir();
let root: TestCa;
let echo: Awaited<ReturnType<typeof tcpEcho>>;
let peer: Awaited<ReturnType<typeof identity>>;

beforeAll(async () => {
  root = await ca({ name: 'root A', trustDomain: TD });
  peer = await identity(root, PEER);
  echo = await tcpEcho();
});

afterAll(async () => {
  await killAll();
  await echo?.close();
  tmp.cleanup();
});

async function sidecarOn(name: string, extra: Record<string, unknown> = {}, identityExtra: Record<string, unknown> = {}) {
  const [admin, listen] = await freePorts(2);
  const side = await startSidecar(tmp.dir, name, {
    trustDomain: TD,
    clockSkewSeconds: 0,
    identity: { dir: join(tmp.dir, name), ...identityExtra },
    admin: { listen: `127.0.0.1:${admin}` },
    inbound: [{ listen: `127.0.0.1:${listen}`, forward: `127.0.0.1:${echo.port}` }],
    ...extra,
  });
  return { side, port: listen!, serial: () => servedSerial(listen!, { ca: root.certPem, cert: peer.files.cert, key: peer.files.key }) };
}

async function reloads(side: SidecarHandle, result: 'ok' | 'error'): Promise<number> {
  return metric(await side.metrics(), 'tlsmesh_identity_reloads_total', { result }) ?? -1;
}

describe('bad new material is refused and the old identity keeps serving', () => {
  let h: Awaited<ReturnType<typeof sidecarOn>>;
  let goodSerial: string;
  const other = ca({ name: 'other root' });

  beforeAll(async () => {
    const good = await identity(root, ME);
    goodSerial = good.leaf.cert.serialNumber.toLowerCase();
    await writeSecret(join(tmp.dir, 'bad'), good.files);
    h = await sidecarOn('bad');
    expect(await h.serial()).toBe(goodSerial);
  });

  const cases: [string, () => Promise<{ cert: string; key: string; ca: string }>, RegExp][] = [
    ['a key that does not match the certificate', async () => {
      const l = await leaf({ issuer: root, spiffeId: ME });
      return { cert: l.certPem, key: (await generateKeyPair()).privatePem, ca: root.certPem };
    }, /tls\.key does not match/],
    ['an expired certificate', async () => (await identity(root, ME, { notBefore: new Date(Date.now() - 7200_000), notAfter: new Date(Date.now() - 3600_000) })).files, /expired/],
    ['a certificate not yet valid', async () => (await identity(root, ME, { notBefore: new Date(Date.now() + 3600_000) })).files, /not yet valid/],
    ['a certificate from another CA', async () => {
      const l = await leaf({ issuer: await other, spiffeId: ME });
      return { cert: l.certPem, key: l.key.privatePem, ca: root.certPem };
    }, /does not chain to ca\.crt/],
    ['a certificate that is not an SVID', async () => (await identity(root, ME, { uris: [], dnsNames: ['backend.example'] })).files, /not an X509-SVID/],
    ['an SVID of another trust domain', async () => (await identity(root, 'spiffe://other.local/ns/default/sa/backend')).files, /trust domain exp=cluster\.local got=other\.local/],
    ['a truncated PEM', async () => {
      const f = (await identity(root, ME)).files;
      return { ...f, cert: f.cert.slice(0, f.cert.length / 2) };
    }, /tls\.crt: truncated or malformed PEM/],
  ];

  it.each(cases)('%s', async (_what, make, message) => {
    const errorsBefore = await reloads(h.side, 'error');
    await writeSecret(join(tmp.dir, 'bad'), await make());
    await eventually(async () => (await reloads(h.side, 'error')) === errorsBefore + 1, 'the refusal to be counted');
    expect(await h.serial()).toBe(goodSerial);
    const certs = JSON.parse((await h.side.get('/certs')).body);
    expect(certs.serialNumber).toBe(goodSerial);
    expect(certs.sources.identity.lastError.message).toMatch(message);
    expect((await h.side.get('/healthz/ready')).status).toBe(200);
  });

  it('a half-written file in place is refused, then the completed one is taken', async () => {
    const dir = join(tmp.dir, 'half');
    mkdirSync(dir);
    const first = await identity(root, ME);
    writePlainSecret(dir, first.files);
    const half = await sidecarOn('half');
    expect(await half.serial()).toBe(first.leaf.cert.serialNumber.toLowerCase());
    const next = await identity(root, ME);
    const errorsBefore = await reloads(half.side, 'error');
    // A writer that replaces the key first and the certificate in two steps.
    writeFileSync(join(dir, 'tls.key'), next.files.key);
    writeFileSync(join(dir, 'tls.crt'), next.files.cert.slice(0, 300));
    await eventually(async () => (await reloads(half.side, 'error')) > errorsBefore, 'the half-written file to be refused');
    expect(await half.serial()).toBe(first.leaf.cert.serialNumber.toLowerCase());
    writeFileSync(join(dir, 'tls.crt'), next.files.cert);
    await eventually(async () => (await half.serial()) === next.leaf.cert.serialNumber.toLowerCase(), 'the completed identity to be served');
  });
});

describe('sources', () => {
  it('plain files replaced in place (no symlinks) are followed', async () => {
    const dir = join(tmp.dir, 'plain');
    mkdirSync(dir);
    writePlainSecret(dir, (await identity(root, ME)).files);
    const h = await sidecarOn('plain');
    const next = await identity(root, ME);
    writePlainSecret(dir, next.files);
    await eventually(async () => (await h.serial()) === next.leaf.cert.serialNumber.toLowerCase(), 'the replaced identity to be served');
  });

  it('CA rotation: a two-CA trust bundle accepts peers of both CAs, then our own identity moves to the new CA', async () => {
    const rootB = await ca({ name: 'root B', trustDomain: TD });
    const bundleDir = join(tmp.dir, 'bundle');
    const bundle = (pem: string) => writeAtomic(bundleDir, { 'bundle.pem': { data: pem } });
    await bundle(root.certPem);
    await writeSecret(join(tmp.dir, 'carot'), (await identity(root, ME)).files);
    const h = await sidecarOn('carot', {}, { trustBundle: join(bundleDir, 'bundle.pem') });
    const peerB = await leaf({ issuer: rootB, spiffeId: PEER });
    const viaB = () => tryTls({ port: h.port, cert: peerB.certPem, key: peerB.key.privatePem, ca: root.certPem + rootB.certPem });
    const viaA = () => tryTls({ port: h.port, cert: peer.files.cert, key: peer.files.key, ca: root.certPem + rootB.certPem });
    expect((await viaB()).data).toBe('');
    // Overlap: both CAs trusted.
    await bundle(root.certPem + rootB.certPem);
    await eventually(async () => (await viaB()).data.startsWith('ping'), 'a peer of the new CA to be accepted');
    expect((await viaA()).data).toMatch(/^ping/);
    const certs = JSON.parse((await h.side.get('/certs')).body);
    expect(certs.trustAnchors).toHaveLength(2);
    // Our own identity is re-issued by the new CA.
    const mine = await identity(rootB, ME, {}, root.certPem + rootB.certPem);
    await writeSecret(join(tmp.dir, 'carot'), mine.files);
    await eventually(async () => JSON.parse((await h.side.get('/certs')).body).serialNumber === mine.leaf.cert.serialNumber.toLowerCase(), 'the new-CA identity');
    // The old CA leaves the bundle: its peers are refused now, ours still chains.
    await bundle(rootB.certPem);
    await eventually(async () => (await viaA()).data === '', 'peers of the old CA to be refused');
    expect((await viaB()).data).toMatch(/^ping/);
  });

  it('a bundle that drops our own CA is taken (peers decide), with a warning and a metric', async () => {
    const rootC = await ca({ name: 'root C', trustDomain: TD });
    const bundleDir = join(tmp.dir, 'bundle2');
    await writeAtomic(bundleDir, { 'bundle.pem': { data: root.certPem } });
    await writeSecret(join(tmp.dir, 'drop'), (await identity(root, ME)).files);
    const h = await sidecarOn('drop', {}, { trustBundle: join(bundleDir, 'bundle.pem') });
    await writeAtomic(bundleDir, { 'bundle.pem': { data: rootC.certPem } });
    await eventually(async () => metric(await h.side.metrics(), 'tlsmesh_trust_warnings_total', { kind: 'own_leaf_outside_bundle' }) === 1, 'the warning to be counted');
    await eventually(() => h.side.proc.stdout().includes('"kind":"own_leaf_outside_bundle"'), 'the warning logged');
  });

  it('SIGHUP reloads at once', async () => {
    await writeSecret(join(tmp.dir, 'hup'), (await identity(root, ME)).files);
    const h = await sidecarOn('hup');
    h.side.proc.kill('SIGHUP');
    await eventually(() => h.side.proc.stdout().includes('"trigger":"SIGHUP","result":"unchanged"'), 'the SIGHUP reload to be logged');
  });

  it('the mount removed: the current identity stays; restored: the new one is taken', async () => {
    const dir = join(tmp.dir, 'gone');
    const first = await identity(root, ME);
    await writeSecret(dir, first.files);
    const h = await sidecarOn('gone');
    rmSync(dir, { recursive: true, force: true });
    await eventually(() => h.side.proc.stdout().includes('"event":"identity_source_missing"'), 'the missing mount to be noticed');
    expect(await h.serial()).toBe(first.leaf.cert.serialNumber.toLowerCase());
    expect((await h.side.get('/healthz/ready')).status).toBe(200);
    const next = await identity(root, ME);
    await writeSecret(dir, next.files);
    await eventually(async () => (await h.serial()) === next.leaf.cert.serialNumber.toLowerCase(), 'the restored identity');
  });

  it('an identity that expires without renewal: warnings, then not ready; a renewal makes it ready again', async () => {
    await writeSecret(join(tmp.dir, 'expiry'), (await identity(root, ME)).files);
    const h = await sidecarOn('expiry', {}, { expiryWarningRatio: 0.5 });
    // Once the sidecar runs, a renewal arrives that lives only a few seconds and is never renewed.
    const short = await identity(root, ME, { notBefore: new Date(Date.now() - 1000), notAfter: new Date(Date.now() + 8000) });
    await writeSecret(join(tmp.dir, 'expiry'), short.files);
    await eventually(async () => JSON.parse((await h.side.get('/certs')).body).serialNumber === short.leaf.cert.serialNumber.toLowerCase(), 'the short-lived identity in use');
    await eventually(() => h.side.proc.stdout().includes('"event":"identity_expiring"'), 'the expiring warning', 15_000);
    await eventually(async () => (await h.side.get('/healthz/ready')).status === 503, 'not ready once expired', 15_000);
    expect((await h.side.get('/healthz/ready')).body).toContain('expired');
    await eventually(() => h.side.proc.stdout().includes('"event":"identity_expired"'), 'the expired error in the log');
    await writeSecret(join(tmp.dir, 'expiry'), (await identity(root, ME)).files);
    await eventually(async () => (await h.side.get('/healthz/ready')).status === 200, 'ready again after the renewal');
  });
});


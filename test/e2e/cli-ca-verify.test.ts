// The dev issuer, `tlsmesh pin` and `tlsmesh verify` as a user runs them, cross-checked
// with openssl.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ca, leaf, tempDir, type TestCa } from '../support/pki.js';
import { runTlsmesh } from '../support/processes.js';

const tmp = tempDir();
const caDir = join(tmp.dir, 'ca');
const out = join(tmp.dir, 'svid');
const ID = 'spiffe://cluster.local/ns/default/sa/backend';

beforeAll(async () => {
  const init = await runTlsmesh(['ca', 'init', '--dir', caDir, '--trust-domain', 'cluster.local']);
  expect(init.code).toBe(0);
  expect(init.stdout).toMatch(/^created CA for trust domain cluster\.local in .* \(ca\.crt pin sha256\/\S+\)\n$/);
});
afterAll(() => tmp.cleanup());

describe('tlsmesh ca', () => {
  it('issues an SVID in the Secret layout that openssl verifies', async () => {
    const r = await runTlsmesh(['ca', 'issue', '--ca', caDir, '--spiffe-id', ID, '--out', out, '--ttl', '10m', '--dns', 'backend.default.svc']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^issued ${ID} serial [0-9a-f]+ notAfter \\S+ to ${out}\\n$`));
    const data = readlinkSync(join(out, '..data'));
    expect(data).toMatch(/^\.\.\d{4}_\d{2}_\d{2}_\d{2}_\d{2}_\d{2}\.\d{9}$/);
    for (const f of ['tls.crt', 'tls.key', 'ca.crt']) expect(readlinkSync(join(out, f))).toBe(`..data/${f}`);
    expect(execFileSync('openssl', ['verify', '-CAfile', join(out, 'ca.crt'), join(out, 'tls.crt')]).toString()).toContain(': OK');
    const cert = new X509Certificate(readFileSync(join(out, 'tls.crt')));
    expect(cert.subjectAltName).toContain(`URI:${ID}`);
    expect(cert.subjectAltName).toContain('DNS:backend.default.svc');
    expect(Date.parse(cert.validTo) - Date.parse(cert.validFrom)).toBe(600_000);
    expect(cert.checkPrivateKey(await import('node:crypto').then((c) => c.createPrivateKey(readFileSync(join(out, 'tls.key')))))).toBe(true);
  });

  it('re-running it is a rotation with kubelet semantics: a new folder, ..data swapped, the old folder gone', async () => {
    const before = readlinkSync(join(out, '..data'));
    const oldKey = readFileSync(join(out, 'tls.key'), 'utf8');
    expect((await runTlsmesh(['ca', 'issue', '--ca', caDir, '--spiffe-id', ID, '--out', out])).code).toBe(0);
    const after = readlinkSync(join(out, '..data'));
    expect(after).not.toBe(before);
    expect(readdirSync(out).sort()).toEqual(['..data', after, 'ca.crt', 'tls.crt', 'tls.key'].sort());
    expect(readFileSync(join(out, 'tls.key'), 'utf8')).not.toBe(oldKey);
    const cert = new X509Certificate(readFileSync(join(out, 'tls.crt')));
    expect(Date.parse(cert.validTo) - Date.parse(cert.validFrom)).toBe(24 * 3600_000);
  });

  it('refuses a SPIFFE ID of another trust domain', async () => {
    const r = await runTlsmesh(['ca', 'issue', '--ca', caDir, '--spiffe-id', 'spiffe://other.local/ns/a/sa/b', '--out', join(tmp.dir, 'x')]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe("ca issue: --spiffe-id: trust domain other.local differs from the CA's (cluster.local)");
  });
});

describe('tlsmesh pin', () => {
  it('prints exactly one line, equal to openssl', () => {
    const pub = execFileSync('openssl', ['x509', '-in', join(out, 'tls.crt'), '-noout', '-pubkey']);
    const der = execFileSync('openssl', ['pkey', '-pubin', '-outform', 'der'], { input: pub });
    const expected = `sha256/${execFileSync('openssl', ['dgst', '-sha256', '-binary'], { input: der }).toString('base64')}`;
    return runTlsmesh(['pin', join(out, 'tls.crt')]).then((r) => {
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(`${expected}\n`);
    });
  });
});

describe('tlsmesh verify', () => {
  let other: TestCa;
  beforeAll(async () => {
    other = await ca({ name: 'other' });
  });

  it('accepts a good SVID and prints every check', async () => {
    const r = await runTlsmesh(['verify', '--bundle', join(out, 'ca.crt'), '--expect', ID, join(out, 'tls.crt')]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines.map((l) => l.split(/\s+/).slice(0, 2).join(' '))).toEqual(['PASS chain', 'PASS validity', 'PASS svid', 'PASS identity', 'PASS pins', `accepted: ${ID}`]);
  });

  it.each([
    ['identity_denied', (f: string) => ['--expect', 'spiffe://cluster.local/ns/default/sa/frontend', f], 'FAIL  identity'],
    ['pin_mismatch', (f: string) => ['--pin', `sha256/${Buffer.alloc(32).toString('base64')}`, f], 'FAIL  pins'],
  ])('refuses with %s', async (reason, args, line) => {
    const r = await runTlsmesh(['verify', '--bundle', join(out, 'ca.crt'), ...args(join(out, 'tls.crt'))]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(line);
    expect(r.stdout.trim().split('\n').pop()).toBe(`refused: ${reason}`);
  });

  it('a pin on the CA passes', async () => {
    const caPin = (await runTlsmesh(['pin', join(out, 'ca.crt')])).stdout.trim();
    const r = await runTlsmesh(['verify', '--bundle', join(out, 'ca.crt'), '--pin', caPin, join(out, 'tls.crt')]);
    expect(r.code).toBe(0);
  });

  it.each([
    ['untrusted', 'a certificate of another CA', async () => ({ issuer: other, cert: await leaf({ issuer: other, spiffeId: ID }), bundle: readFileSync(join(out, 'ca.crt'), 'utf8') })],
    ['expired', 'an expired certificate', async () => ({ cert: await leaf({ issuer: other, spiffeId: ID, notBefore: new Date(Date.now() - 7200_000), notAfter: new Date(Date.now() - 3600_000) }), bundle: other.certPem })],
    ['bad_svid', 'two URI SANs', async () => ({ cert: await leaf({ issuer: other, uris: [ID, 'spiffe://cluster.local/x'] }), bundle: other.certPem })],
  ])('reports %s (%s)', async (reason, _what, make) => {
    const m = await make();
    const file = join(tmp.dir, `${reason}.pem`);
    const bundle = join(tmp.dir, `${reason}-bundle.pem`);
    writeFileSync(file, m.cert.certPem);
    writeFileSync(bundle, m.bundle);
    const r = await runTlsmesh(['verify', '--bundle', bundle, '--trust-domain', 'cluster.local', file]);
    expect(r.code).toBe(1);
    expect(r.stdout.trim().split('\n').pop()).toBe(`refused: ${reason}`);
  });

  it('says which extension of a certificate it cannot read, and refuses it as a sidecar would', async () => {
    const file = join(tmp.dir, 'undecodable.pem');
    const bundle = join(tmp.dir, 'undecodable-bundle.pem');
    writeFileSync(file, (await leaf({ issuer: other, spiffeId: ID, undecodableSan: true })).certPem);
    writeFileSync(bundle, other.certPem);
    const r = await runTlsmesh(['verify', '--bundle', bundle, '--trust-domain', 'cluster.local', file]);
    expect(r).toMatchObject({ code: 1, stderr: '' });
    const lines = r.stdout.trim().split('\n');
    expect(lines.map((l) => l.split(/\s+/).slice(0, 2).join(' '))).toEqual(['FAIL chain', 'FAIL svid', 'refused: untrusted']);
    expect(lines[1]).toContain(`bad_svid: ${file}: its subject alternative name extension cannot be read (`);
  });
});

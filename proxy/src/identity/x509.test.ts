// certFacts reads certificates with @peculiar/x509's ASN.1 layer alone; these
// tests hold it to what @peculiar/x509's X509Certificate reads from the same
// DER, field by field, on certificates of every shape the checks care about,
// and to a clear refusal of one it cannot read.
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { x509 } from './peculiar.js';
import { certFacts, KeyUsage } from './x509.js';
import { checkPeer, explainPeer } from './peer-check.js';
import { CredentialError } from '../errors.js';
import { buildCertificate } from '../ca/certificate-builder.js';
import { ca, leaf, tempDir, type TestCa } from '../../../test/support/pki.js';

const TD = 'cluster.local';
let root: TestCa;
const tmp = tempDir();

beforeAll(async () => {
  root = await ca({ name: 'root', trustDomain: TD });
});
afterAll(() => tmp.cleanup());

/** What @peculiar/x509 itself reads from `der`, in certFacts' terms. */
function peculiarReading(der: Buffer) {
  const p = new x509.X509Certificate(der);
  const names = p.getExtension(x509.SubjectAlternativeNameExtension)?.names.items ?? [];
  const ku = p.getExtension(x509.KeyUsagesExtension);
  const eku = p.getExtension(x509.ExtendedKeyUsageExtension);
  return {
    uris: names.filter((n) => n.type === 'url').map((n) => n.value),
    dnsNames: names.filter((n) => n.type === 'dns').map((n) => n.value),
    isCa: p.getExtension(x509.BasicConstraintsExtension)?.ca ?? false,
    keyUsage: ku ? ku.usages : undefined,
    extKeyUsage: eku ? eku.usages.map(String) : undefined,
    notBefore: p.notBefore.getTime(),
    notAfter: p.notAfter.getTime(),
    serialNumber: p.serialNumber.toLowerCase(),
  };
}

function expectSameReading(der: Buffer) {
  const f = certFacts(new X509Certificate(der));
  const { uris, dnsNames, isCa, keyUsage, extKeyUsage, notBefore, notAfter, serialNumber } = f;
  expect({ uris, dnsNames, isCa, keyUsage, extKeyUsage, notBefore, notAfter, serialNumber }).toEqual(peculiarReading(der));
  return f;
}

describe('certFacts reads what @peculiar/x509 reads', () => {
  it('an SVID with DNS names beside its SPIFFE ID, default key usages', async () => {
    const l = await leaf({ issuer: root, spiffeId: `spiffe://${TD}/ns/default/sa/web`, dnsNames: ['web.default.svc', 'web'] });
    const f = expectSameReading(l.der);
    expect(f.uris).toEqual([`spiffe://${TD}/ns/default/sa/web`]);
    expect(f.dnsNames).toEqual(['web.default.svc', 'web']);
    expect(f.keyUsage! & KeyUsage.digitalSignature).toBeTruthy();
    expect(f.extKeyUsage).toStrictEqual(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
    expect(f.isCa).toBe(false);
  });

  it('a CA with its trust domain as URI SAN', () => {
    const f = expectSameReading(root.der);
    expect(f.isCa).toBe(true);
    expect(f.uris).toEqual([`spiffe://${TD}`]);
    expect(f.keyUsage! & KeyUsage.keyCertSign).toBeTruthy();
    expect(f.extKeyUsage).toBeUndefined();
  });

  it('a serial with its high bit set (a 00 in the DER) and a leaf that signs certificates', async () => {
    const l = await leaf({
      issuer: root,
      spiffeId: `spiffe://${TD}/ns/default/sa/odd`,
      keyUsage: KeyUsage.keyCertSign | KeyUsage.digitalSignature,
      extKeyUsage: [],
    });
    expectSameReading(l.der);
    expect(certFacts(new X509Certificate(l.der)).extKeyUsage).toBeUndefined();
    // The builder's random serials start below 0x80; this one is written with a 00 before it.
    const high = await buildCertificate({ subject: 'CN=high', issuer: root.issuer, serialHex: '80ff0001' });
    expect(high.der.includes(Buffer.from([0x02, 0x05, 0x00, 0x80, 0xff, 0x00, 0x01]))).toBe(true);
    expect(expectSameReading(high.der).serialNumber).toBe('80ff0001');
  });

  it('a version 1 certificate with no extensions at all (openssl)', () => {
    const key = join(tmp.dir, 'v1.key');
    const csr = join(tmp.dir, 'v1.csr');
    const crt = join(tmp.dir, 'v1.crt');
    execFileSync('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', csr, '-subj', '/C=US/O=Acme, Inc./CN=v1'], { stdio: 'ignore' });
    execFileSync('openssl', ['x509', '-req', '-in', csr, '-signkey', key, '-days', '1', '-out', crt], { stdio: 'ignore' });
    const der = new X509Certificate(readFileSync(crt)).raw;
    const f = expectSameReading(der);
    expect(f).toMatchObject({ uris: [], dnsNames: [], isCa: false, keyUsage: undefined, extKeyUsage: undefined });
    // Names are Node's (OpenSSL's) reading on one line, as /certs shows them.
    expect(f.subject).toBe('C=US, O=Acme\\, Inc., CN=v1');
    expect(f.issuer).toBe(f.subject);
  });
});

// Node and OpenSSL parse a certificate whose extension contents do not decode
// (they decode an extension only when they check it), so a peer can present
// one before anything has checked it: certFacts says what it cannot read, as a
// CredentialError the callers refuse with, never as anything else.
describe('certFacts on a certificate it cannot read', () => {
  it('names the extension in a CredentialError', async () => {
    const l = await leaf({ issuer: root, spiffeId: `spiffe://${TD}/ns/default/sa/web`, undecodableSan: true });
    const cert = new X509Certificate(l.der);
    expect(cert.subject).toContain('CN=web');
    expect(() => certFacts(cert, 'tls.crt')).toThrow(CredentialError);
    expect(() => certFacts(cert, 'tls.crt')).toThrow(/^tls\.crt: its subject alternative name extension cannot be read \(.+\)$/);
  });

  it('refuses it as a peer: for its chain when that fails, else as no valid SVID, and explains both checks', async () => {
    const l = await leaf({ issuer: root, spiffeId: `spiffe://${TD}/ns/default/sa/web`, undecodableSan: true });
    let unreadable = '';
    try {
      certFacts(new X509Certificate(l.der), 'the peer certificate');
    } catch (err) {
      unreadable = (err as Error).message;
    }
    expect(unreadable).toMatch(/^the peer certificate: its subject alternative name extension/);
    const policy = { trustDomain: TD, allow: undefined, pins: undefined, role: 'client' as const, skewMs: 0 };
    const untrusted = { leaf: undefined, unreadable, chain: { ok: false as const, reason: 'untrusted' as const, detail: 'no valid chain (UNABLE_TO_GET_ISSUER_CERT_LOCALLY)' }, chainPins: [] };
    expect(checkPeer(untrusted, policy, Date.now())).toEqual({ ok: false, reason: 'untrusted', detail: 'no valid chain (UNABLE_TO_GET_ISSUER_CERT_LOCALLY)' });
    const chained = { ...untrusted, chain: { ok: true as const } };
    expect(checkPeer(chained, policy, Date.now())).toEqual({ ok: false, reason: 'bad_svid', detail: unreadable });
    expect(explainPeer(chained, policy, Date.now()).map((r) => [r.check, r.ok, r.reason])).toEqual([
      ['chain', true, undefined],
      ['svid', false, 'bad_svid'],
    ]);
    // No certificate at all is still its own reason.
    expect(checkPeer({ leaf: undefined, chain: { ok: true }, chainPins: [] }, policy, Date.now())).toMatchObject({ ok: false, reason: 'no_peer_cert' });
  });
});

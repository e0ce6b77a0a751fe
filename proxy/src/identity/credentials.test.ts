import { beforeAll, describe, expect, it } from 'vitest';
import { CredentialError } from '../errors.js';
import { validateCandidate } from './credentials.js';
import { ca, chainPem, generateKeyPair, leaf, type TestCa } from '../../../test/support/pki.js';
import { KeyUsage } from './x509.js';

const TD = 'cluster.local';
const ID = `spiffe://${TD}/ns/default/sa/frontend`;
let root: TestCa;
let otherRoot: TestCa;
let inter: TestCa;

beforeAll(async () => {
  root = await ca({ name: 'root', trustDomain: TD });
  otherRoot = await ca({ name: 'other root' });
  inter = await ca({ name: 'intermediate', issuer: root });
});

const opts = { trustDomain: TD, now: Date.now(), skewMs: 0, generation: 1, bundleName: 'ca.crt' };

function candidate(cert: string, key: string, bundle: string) {
  return { cert: Buffer.from(cert), key: Buffer.from(key), bundle: Buffer.from(bundle) };
}

describe('validateCandidate accepts', () => {
  it.each(['ec-p256', 'ec-p384', 'rsa-2048', 'ed25519'] as const)('a %s SVID', async (keyType) => {
    const l = await leaf({ issuer: root, spiffeId: ID, keyType });
    const c = validateCandidate(candidate(l.certPem, l.key.privatePem, root.certPem), opts);
    expect(c.spiffeId.toString()).toBe(ID);
    expect(c.leaf.serialNumber).toBe(l.cert.serialNumber.toLowerCase());
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('a chain with an intermediate, and a bundle of several CAs', async () => {
    const l = await leaf({ issuer: inter, spiffeId: ID });
    const c = validateCandidate(candidate(chainPem(l, inter), l.key.privatePem, otherRoot.certPem + root.certPem), opts);
    expect(c.chain).toHaveLength(2);
    expect(c.anchors).toHaveLength(2);
  });

  it('PKCS#1 and SEC1 keys as well as PKCS#8', async () => {
    const { createPrivateKey } = await import('node:crypto');
    const rsa = await leaf({ issuer: root, spiffeId: ID, keyType: 'rsa-2048' });
    const pkcs1 = createPrivateKey(rsa.key.privatePem).export({ type: 'pkcs1', format: 'pem' }) as string;
    expect(pkcs1).toContain('BEGIN RSA PRIVATE KEY');
    expect(validateCandidate(candidate(rsa.certPem, pkcs1, root.certPem), opts).spiffeId.toString()).toBe(ID);
    const ec = await leaf({ issuer: root, spiffeId: ID });
    const sec1 = createPrivateKey(ec.key.privatePem).export({ type: 'sec1', format: 'pem' }) as string;
    expect(sec1).toContain('BEGIN EC PRIVATE KEY');
    expect(validateCandidate(candidate(ec.certPem, sec1, root.certPem), opts).spiffeId.toString()).toBe(ID);
  });
});

describe('validateCandidate refuses', () => {
  const cases: [string, () => Promise<ReturnType<typeof candidate>>, RegExp][] = [
    ['a key that does not match', async () => {
      const l = await leaf({ issuer: root, spiffeId: ID });
      const k = await generateKeyPair();
      return candidate(l.certPem, k.privatePem, root.certPem);
    }, /tls\.key does not match the certificate/],
    ['an expired certificate', async () => {
      const l = await leaf({ issuer: root, spiffeId: ID, notBefore: new Date(Date.now() - 7200_000), notAfter: new Date(Date.now() - 3600_000) });
      return candidate(l.certPem, l.key.privatePem, root.certPem);
    }, /tls\.crt expired: .* expired at/],
    ['a certificate not yet valid', async () => {
      const l = await leaf({ issuer: root, spiffeId: ID, notBefore: new Date(Date.now() + 3600_000) });
      return candidate(l.certPem, l.key.privatePem, root.certPem);
    }, /tls\.crt not yet valid/],
    ['a certificate from another CA', async () => {
      const l = await leaf({ issuer: otherRoot, spiffeId: ID });
      return candidate(l.certPem, l.key.privatePem, root.certPem);
    }, /tls\.crt does not chain to ca\.crt/],
    ['a certificate with no URI SAN', async () => {
      const l = await leaf({ issuer: root, dnsNames: ['x.example'] });
      return candidate(l.certPem, l.key.privatePem, root.certPem);
    }, /not an X509-SVID of cluster\.local: no URI SAN/],
    ['an SVID of another trust domain', async () => {
      const l = await leaf({ issuer: root, spiffeId: 'spiffe://other.local/ns/a/sa/b' });
      return candidate(l.certPem, l.key.privatePem, root.certPem);
    }, /trust domain exp=cluster\.local got=other\.local/],
    ['two URI SANs', async () => {
      const l = await leaf({ issuer: root, uris: [ID, `spiffe://${TD}/ns/x/sa/y`] });
      return candidate(l.certPem, l.key.privatePem, root.certPem);
    }, /2 URI SANs/],
    ['a CA certificate as leaf', async () => {
      const l = await leaf({ issuer: root, spiffeId: ID, isCa: true });
      return candidate(l.certPem, l.key.privatePem, root.certPem);
    }, /the leaf is a CA certificate/],
    ['a leaf with keyCertSign', async () => {
      const l = await leaf({ issuer: root, spiffeId: ID, keyUsage: KeyUsage.digitalSignature | KeyUsage.keyCertSign });
      return candidate(l.certPem, l.key.privatePem, root.certPem);
    }, /keyCertSign/],
    ['a certificate whose subjectAltName does not decode', async () => {
      const l = await leaf({ issuer: root, spiffeId: ID, undecodableSan: true });
      return candidate(l.certPem, l.key.privatePem, root.certPem);
    }, /^tls\.crt: its subject alternative name extension cannot be read \(/],
    ['a truncated certificate', async () => {
      const l = await leaf({ issuer: root, spiffeId: ID });
      return candidate(l.certPem.slice(0, 200), l.key.privatePem, root.certPem);
    }, /tls\.crt: truncated or malformed PEM/],
    ['a half-written key', async () => {
      const l = await leaf({ issuer: root, spiffeId: ID });
      return candidate(l.certPem, l.key.privatePem.slice(0, 60), root.certPem);
    }, /tls\.key: not a PEM private key/],
    ['an empty bundle', async () => {
      const l = await leaf({ issuer: root, spiffeId: ID });
      return candidate(l.certPem, l.key.privatePem, '');
    }, /ca\.crt: empty/],
  ];

  it.each(cases)('%s', async (_name, make, message) => {
    const c = await make();
    let err: unknown;
    try {
      validateCandidate(c, opts);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CredentialError);
    expect((err as CredentialError).code).toBe('TLSMESH_ERR_CREDENTIAL');
    expect((err as Error).message).toMatch(message);
    // Never echo key material.
    expect((err as Error).message).not.toMatch(/PRIVATE KEY|MII/);
  });
});

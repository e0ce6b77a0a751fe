import { createPrivateKey } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { CredentialError } from '../errors.js';
import { validateServerCertificate, type WebPkiInput } from './webpki.js';
import { ca, chainPem, EKU_CLIENT_AUTH, EKU_SERVER_AUTH, generateKeyPair, leaf, type TestCa } from '../../../test/support/pki.js';

let root: TestCa;
let inter: TestCa;
let other: TestCa;

beforeAll(async () => {
  root = await ca({ name: 'web root' });
  inter = await ca({ name: 'web intermediate', issuer: root });
  other = await ca({ name: 'other root' });
});

const now = Date.now();
const opts = { now, skewMs: 0 };
const input = (cert: string, key: string, caPem?: string): WebPkiInput => ({ cert: Buffer.from(cert), key: Buffer.from(key), ca: caPem === undefined ? undefined : Buffer.from(caPem) });
const web = (names: string[], o: Parameters<typeof leaf>[0] extends infer L ? Partial<L> : never = {}) => leaf({ issuer: root, dnsNames: names, extKeyUsage: [EKU_SERVER_AUTH], ...o });

describe('validateServerCertificate accepts', () => {
  it.each(['ec-p256', 'ec-p384', 'rsa-2048'] as const)('a %s certificate from its private CA (ca.crt)', async (keyType) => {
    const l = await web(['www.example.com'], { keyType });
    const c = validateServerCertificate(input(l.certPem, l.key.privatePem, root.certPem), opts);
    expect(c.names).toEqual(['www.example.com']);
    expect(c.leaf.serialNumber).toBe(l.cert.serialNumber.toLowerCase());
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('a public-style chain (leaf + intermediate, no ca.crt), checked for order', async () => {
    const l = await leaf({ issuer: inter, dnsNames: ['*.example.com', 'example.com'] });
    const c = validateServerCertificate(input(chainPem(l, inter), l.key.privatePem), opts);
    expect(c.chain).toHaveLength(2);
    expect(c.names).toEqual(['*.example.com', 'example.com']);
  });

  it('an empty ca.crt as no ca.crt (cert-manager ACME secrets)', async () => {
    const l = await web(['www.example.com']);
    expect(validateServerCertificate(input(l.certPem, l.key.privatePem, ''), opts).names).toEqual(['www.example.com']);
  });

  it('configured names covered exactly or by a wildcard SAN', async () => {
    const l = await web(['*.example.com', 'example.com']);
    const c = validateServerCertificate(input(l.certPem, l.key.privatePem, root.certPem), { ...opts, names: ['a.example.com', 'example.com', '*.example.com'] });
    expect(c.names).toEqual(['a.example.com', 'example.com', '*.example.com']);
  });

  it('a certificate without extended key usage, and one with serverAuth among others', async () => {
    const none = await web(['a.example.com'], { extKeyUsage: [] });
    expect(validateServerCertificate(input(none.certPem, none.key.privatePem, root.certPem), opts).names).toEqual(['a.example.com']);
    const both = await web(['a.example.com'], { extKeyUsage: [EKU_CLIENT_AUTH, EKU_SERVER_AUTH] });
    expect(validateServerCertificate(input(both.certPem, both.key.privatePem, root.certPem), opts).names).toEqual(['a.example.com']);
  });

  it('an SVID-free certificate is fine: no SPIFFE rules here', async () => {
    const l = await web(['api.example.com'], { uris: ['https://example.com/not-spiffe'] });
    expect(validateServerCertificate(input(l.certPem, l.key.privatePem, root.certPem), opts).names).toEqual(['api.example.com']);
  });

  it('PKCS#1 and SEC1 keys', async () => {
    const rsa = await web(['a.example.com'], { keyType: 'rsa-2048' });
    const pkcs1 = createPrivateKey(rsa.key.privatePem).export({ type: 'pkcs1', format: 'pem' }) as string;
    expect(validateServerCertificate(input(rsa.certPem, pkcs1, root.certPem), opts).names).toEqual(['a.example.com']);
    const ec = await web(['a.example.com']);
    const sec1 = createPrivateKey(ec.key.privatePem).export({ type: 'sec1', format: 'pem' }) as string;
    expect(validateServerCertificate(input(ec.certPem, sec1, root.certPem), opts).names).toEqual(['a.example.com']);
  });
});

describe('validateServerCertificate refuses', () => {
  const cases: [string, () => Promise<[WebPkiInput, { names?: string[] }?]>, RegExp][] = [
    ['a key that does not match', async () => {
      const l = await web(['a.example.com']);
      return [input(l.certPem, (await generateKeyPair()).privatePem, root.certPem)];
    }, /^tls\.key does not match the certificate in tls\.crt$/],
    ['an empty tls.crt', async () => [input('', (await generateKeyPair()).privatePem)], /^tls\.crt: empty$/],
    ['a key that is not PEM', async () => {
      const l = await web(['a.example.com']);
      return [input(l.certPem, 'nope', root.certPem)];
    }, /^tls\.key: not a PEM private key/],
    ['a CA certificate as the leaf', async () => {
      const l = await leaf({ issuer: root, dnsNames: ['a.example.com'], isCa: true, extKeyUsage: [] });
      return [input(l.certPem, l.key.privatePem, root.certPem)];
    }, /^tls\.crt: the leaf is a CA certificate/],
    ['a client-only certificate', async () => {
      const l = await web(['a.example.com'], { extKeyUsage: [EKU_CLIENT_AUTH] });
      return [input(l.certPem, l.key.privatePem, root.certPem)];
    }, /^tls\.crt: extended key usage does not include serverAuth$/],
    ['no DNS SAN (an SVID)', async () => {
      const l = await leaf({ issuer: root, spiffeId: 'spiffe://cluster.local/ns/a/sa/b' });
      return [input(l.certPem, l.key.privatePem, root.certPem)];
    }, /^tls\.crt: no DNS subject alternative names/],
    ['an expired certificate', async () => {
      const l = await web(['a.example.com'], { notBefore: new Date(now - 7200_000), notAfter: new Date(now - 3600_000) });
      return [input(l.certPem, l.key.privatePem, root.certPem)];
    }, /^tls\.crt expired: expired at /],
    ['a certificate not valid yet', async () => {
      const l = await web(['a.example.com'], { notBefore: new Date(now + 3600_000) });
      return [input(l.certPem, l.key.privatePem, root.certPem)];
    }, /^tls\.crt not yet valid: valid from /],
    ['a configured name the certificate does not cover', async () => {
      const l = await web(['*.example.com']);
      return [input(l.certPem, l.key.privatePem, root.certPem), { names: ['a.b.example.com', 'example.com'] }];
    }, /^tls\.crt does not cover a\.b\.example\.com, example\.com \(DNS SANs: \*\.example\.com\)$/],
    ['a chain that does not reach ca.crt', async () => {
      const l = await web(['a.example.com']);
      return [input(l.certPem, l.key.privatePem, other.certPem)];
    }, /^tls\.crt does not chain to ca\.crt: /],
    ['an intermediate missing when ca.crt is the root', async () => {
      const l = await leaf({ issuer: inter, dnsNames: ['a.example.com'] });
      return [input(l.certPem, l.key.privatePem, root.certPem)];
    }, /^tls\.crt does not chain to ca\.crt: /],
    ['a public-style chain in the wrong order', async () => {
      const l = await leaf({ issuer: inter, dnsNames: ['a.example.com'] });
      return [input(chainPem(l, root), l.key.privatePem)];
    }, /^tls\.crt: certificate 2 \(CN=web root, O=tlsmesh tests\) did not issue certificate 1/],
  ];
  it.each(cases)('%s', async (_name, make, message) => {
    const [i, o] = await make();
    let err: unknown;
    try {
      validateServerCertificate(i, { ...opts, ...o });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CredentialError);
    expect((err as CredentialError).code).toBe('TLSMESH_ERR_CREDENTIAL');
    expect((err as Error).message).toMatch(message);
  });
});

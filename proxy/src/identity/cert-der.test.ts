// derFacts against an independent implementation: @peculiar/x509, which read
// these facts before, on certificates from our own builder and from openssl
// (odd names, a 2-byte key usage, a v1 certificate, a serial with its high bit
// set, a GeneralizedTime validity).
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ca, leaf, tempDir } from '../../../test/support/pki.js';
import { derFacts, type DerFacts } from './cert-der.js';
import { x509 } from './peculiar.js';
import { KeyUsage } from './x509.js';

function peculiarFacts(der: Buffer): DerFacts {
  const p = new x509.X509Certificate(der);
  const san = p.getExtension(x509.SubjectAlternativeNameExtension);
  const ku = p.getExtension(x509.KeyUsagesExtension);
  const eku = p.getExtension(x509.ExtendedKeyUsageExtension);
  return {
    uris: (san?.names.items ?? []).filter((n) => n.type === 'url').map((n) => n.value),
    dnsNames: (san?.names.items ?? []).filter((n) => n.type === 'dns').map((n) => n.value),
    isCa: p.getExtension(x509.BasicConstraintsExtension)?.ca ?? false,
    keyUsage: ku ? ku.usages : undefined,
    extKeyUsage: eku ? eku.usages.map(String) : undefined,
    notBefore: p.notBefore.getTime(),
    notAfter: p.notAfter.getTime(),
    serialNumber: p.serialNumber.toLowerCase(),
    subject: p.subject,
    issuer: p.issuer,
  };
}

const tmp = tempDir('tlsmesh-der-');
afterAll(() => tmp.cleanup());
let n = 0;

/** A self-signed certificate made by openssl req -x509 (extensions: lines of an openssl config section). */
function openssl(subj: string, extensions: string[], extra: string[] = []): Buffer {
  const dir = join(tmp.dir, String(++n));
  execFileSync('mkdir', ['-p', dir]);
  writeFileSync(join(dir, 'ext.cnf'), `[req]\ndistinguished_name=dn\n[dn]\n[ext]\n${extensions.join('\n')}\n`);
  const ext = extensions.length ? ['-extensions', 'ext'] : [];
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem'), '-config', join(dir, 'ext.cnf'), ...ext, '-utf8', '-subj', subj, ...extra], { stdio: 'ignore' });
  return new X509Certificate(readFileSync(join(dir, 'c.pem'))).raw;
}

/** A v1 certificate (no extensions at all): openssl x509 -req signs a CSR without any. */
function opensslV1(): Buffer {
  const dir = join(tmp.dir, String(++n));
  execFileSync('mkdir', ['-p', dir]);
  execFileSync('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'r.pem'), '-subj', '/CN=v1'], { stdio: 'ignore' });
  execFileSync('openssl', ['x509', '-req', '-in', join(dir, 'r.pem'), '-key', join(dir, 'k.pem'), '-out', join(dir, 'c.pem'), '-days', '1'], { stdio: 'ignore' });
  return new X509Certificate(readFileSync(join(dir, 'c.pem'))).raw;
}

describe('derFacts equals @peculiar/x509', () => {
  it.each<[string, () => Promise<Buffer | string>]>([
    ['our root CA (RSA)', async () => (await ca({ keyType: 'rsa-2048', trustDomain: 'cluster.local' })).certPem],
    ['an SVID with DNS names', async () => (await leaf({ issuer: await ca(), spiffeId: 'spiffe://cluster.local/ns/a/sa/b', dnsNames: ['b.a.svc', 'b'] })).certPem],
    ['a leaf with key usage for a CA and no EKU', async () => (await leaf({ issuer: await ca(), spiffeId: 'spiffe://td/x', keyUsage: KeyUsage.digitalSignature | KeyUsage.keyCertSign | KeyUsage.cRLSign, extKeyUsage: [] })).certPem],
    ['a leaf valid until 2060 (GeneralizedTime)', async () => (await leaf({ issuer: await ca({ notAfter: new Date('2061-01-01T00:00:00Z') }), spiffeId: 'spiffe://td/x', notAfter: new Date('2060-06-01T12:34:56Z') })).certPem],
    ['a name with escapes, UTF-8, email and DC', async () => openssl('/CN=a\\, b;c<d>e"f\\\\g/O=Ünïcødé Ltd/emailAddress=me@example.com/DC=example/DC=com/OU= lead/L=#hash/ST=trail /C=DE/serialNumber=123/title=T1/GN=G/SN=S/initials=I/street=Main St', [])],
    ['a multi-valued RDN', async () => openssl('/CN=x+OU=y/O=z', [], ['-multivalue-rdn'])],
    ['every key usage bit, EKU, CA with pathlen, and every SAN kind', async () => openssl('/CN=all', ['keyUsage=critical,digitalSignature,nonRepudiation,keyEncipherment,dataEncipherment,keyAgreement,keyCertSign,cRLSign,encipherOnly,decipherOnly', 'extendedKeyUsage=serverAuth,clientAuth,codeSigning,1.2.3.4.5', 'basicConstraints=critical,CA:TRUE,pathlen:0', 'subjectAltName=URI:spiffe://td/ns/a/sa/b,DNS:a.example,IP:10.0.0.1,email:x@example.com,DNS:b.example'])],
    ['CA:FALSE written out, one key usage bit', async () => openssl('/CN=leaf', ['basicConstraints=CA:FALSE', 'keyUsage=keyAgreement'])],
    ['a serial with its high bit set', async () => openssl('/CN=serial', [], ['-set_serial', '0x80aabbccddeeff00112233'])],
    ['a serial with leading zero bytes', async () => openssl('/CN=serial0', [], ['-set_serial', '0x0000ab'])],
    ['a v1 certificate', async () => opensslV1()],
  ])('%s', async (_name, make) => {
    const made = await make();
    const der = typeof made === 'string' ? new X509Certificate(made).raw : made;
    expect(derFacts(der)).toEqual(peculiarFacts(der));
  });

  it.each([
    ['not a SEQUENCE', Buffer.from([0x02, 0x01, 0x00])],
    ['truncated', Buffer.from([0x30, 0x05, 0x30])],
  ])('refuses %s', (_name, der) => expect(() => derFacts(der)).toThrow());
});

// PEM chains and keys, key-matches-leaf, and the facts we need of a certificate
// (SANs, basic constraints, key usage) read from its DER with @peculiar/x509's
// own ASN.1 layer (@peculiar/asn1-x509): the schemas its X509Certificate
// parses with, without the rest of @peculiar/x509 (its WebCrypto algorithms,
// CMS, CSR and RSA schemas, tsyringe), which the certificate authority loads
// and the sidecar does not. That is 20 to 30 ms of every sidecar's start
// (docs/benchmarks.md, Startup).
import { X509Certificate, createHash, createPrivateKey, type KeyObject } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import {
  BasicConstraints,
  Certificate,
  ExtendedKeyUsage,
  KeyUsage as KeyUsageBits,
  KeyUsageFlags,
  SubjectAlternativeName,
  id_ce_basicConstraints,
  id_ce_extKeyUsage,
  id_ce_keyUsage,
  id_ce_subjectAltName,
  type TBSCertificate,
} from '@peculiar/asn1-x509';
import { CredentialError, oneLine } from '../errors.js';
import { oneLineDn } from './chain.js';
import { spkiPinOf } from './pin.js';

export interface PemBlock {
  label: string;
  der: Buffer;
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;

export function splitPem(text: string): PemBlock[] {
  const blocks: PemBlock[] = [];
  for (const m of text.matchAll(PEM_BLOCK)) {
    blocks.push({ label: m[1]!, der: Buffer.from(m[2]!.replace(/[^A-Za-z0-9+/=]/g, ''), 'base64') });
  }
  return blocks;
}

/** Every CERTIFICATE block of `pem`, in order. `what` names the file in errors. */
export function parseCertificates(pem: string | Buffer, what: string): X509Certificate[] {
  const text = typeof pem === 'string' ? pem : pem.toString('utf8');
  const blocks = splitPem(text).filter((b) => b.label === 'CERTIFICATE');
  if (blocks.length === 0) {
    const why = text.trim() === '' ? 'empty' : text.includes('-----BEGIN') ? 'truncated or malformed PEM' : 'no PEM certificate';
    throw new CredentialError(`${what}: ${why}`);
  }
  return blocks.map((b, i) => {
    try {
      return new X509Certificate(b.der);
    } catch (err) {
      throw new CredentialError(`${what}: certificate ${i + 1} does not parse: ${(err as Error).message}`, { cause: err });
    }
  });
}

export function parsePrivateKey(pem: string | Buffer, what: string): KeyObject {
  const text = typeof pem === 'string' ? pem : pem.toString('utf8');
  if (text.trim() === '') throw new CredentialError(`${what}: empty`);
  try {
    const key = createPrivateKey(text);
    checkKeyStrength(key, what);
    return key;
  } catch (err) {
    if (err instanceof CredentialError) throw err;
    // Never echo key material: the message names the file and the parser's verdict only.
    throw new CredentialError(`${what}: not a PEM private key (PKCS#8, PKCS#1 or SEC1)`, { cause: undefined });
  }
}

function checkKeyStrength(key: KeyObject, what: string): void {
  const d = key.asymmetricKeyDetails;
  switch (key.asymmetricKeyType) {
    case 'rsa':
      if ((d?.modulusLength ?? 0) < 2048) throw new CredentialError(`${what}: RSA key of ${d?.modulusLength} bits, need 2048 or more`);
      return;
    case 'ec':
      if (d?.namedCurve !== 'prime256v1' && d?.namedCurve !== 'secp384r1' && d?.namedCurve !== 'secp521r1') {
        throw new CredentialError(`${what}: EC curve ${d?.namedCurve} not supported (P-256, P-384)`);
      }
      return;
    case 'ed25519':
      return;
    default:
      throw new CredentialError(`${what}: key type ${key.asymmetricKeyType} not supported`);
  }
}

export function keyMatchesCertificate(key: KeyObject, cert: X509Certificate): boolean {
  try {
    return cert.checkPrivateKey(key);
  } catch {
    return false;
  }
}

/** Everything the checks need of one certificate, read once. */
export interface CertFacts {
  uris: string[];
  dnsNames: string[];
  isCa: boolean;
  /** KeyUsageFlags bitmask, or undefined when the extension is absent. */
  keyUsage: number | undefined;
  /** Extended key usage OIDs, or undefined when absent. */
  extKeyUsage: string[] | undefined;
  notBefore: number;
  notAfter: number;
  /** Lowercase hex, no colons, leading zeros kept as the DER has them. */
  serialNumber: string;
  subject: string;
  issuer: string;
  spkiPin: string;
  /** Lowercase hex SHA-256 of the DER (Envoy's XFCC Hash). */
  sha256: string;
}

/**
 * What `cert` says, read with @peculiar/asn1-x509. A certificate that Node
 * (OpenSSL) parses may still carry an extension whose contents do not decode
 * (OpenSSL decodes extensions only when it checks them): that throws a
 * CredentialError naming `what` and the extension, never anything else, for
 * a peer can send such a certificate before anything has checked it.
 */
export function certFacts(cert: X509Certificate, what = 'certificate'): CertFacts {
  let tbs: TBSCertificate;
  try {
    tbs = AsnConvert.parse(cert.raw, Certificate).tbsCertificate;
  } catch (err) {
    throw new CredentialError(`${what} cannot be read as X.509 (${oneLine(err)})`, { cause: err });
  }
  const read = <T>(id: string, type: new () => T, name: string): T | undefined => {
    const e = tbs.extensions?.find((x) => x.extnID === id);
    if (!e) return undefined;
    try {
      return AsnConvert.parse(e.extnValue.buffer, type);
    } catch (err) {
      throw new CredentialError(`${what}: its ${name} extension cannot be read (${oneLine(err)})`, { cause: err });
    }
  };
  const uris: string[] = [];
  const dnsNames: string[] = [];
  for (const n of read(id_ce_subjectAltName, SubjectAlternativeName, 'subject alternative name') ?? []) {
    if (n.uniformResourceIdentifier !== undefined) uris.push(n.uniformResourceIdentifier);
    else if (n.dNSName !== undefined) dnsNames.push(n.dNSName);
  }
  const ku = read(id_ce_keyUsage, KeyUsageBits, 'key usage');
  const eku = read(id_ce_extKeyUsage, ExtendedKeyUsage, 'extended key usage');
  return {
    uris,
    dnsNames,
    isCa: read(id_ce_basicConstraints, BasicConstraints, 'basic constraints')?.cA ?? false,
    keyUsage: ku ? ku.toNumber() : undefined,
    extKeyUsage: eku ? Array.from(eku, String) : undefined,
    notBefore: tbs.validity.notBefore.getTime().getTime(),
    notAfter: tbs.validity.notAfter.getTime().getTime(),
    serialNumber: serialHex(new Uint8Array(tbs.serialNumber)),
    subject: oneLineDn(cert.subject),
    issuer: oneLineDn(cert.issuer),
    spkiPin: spkiPinOf(cert),
    sha256: createHash('sha256').update(cert.raw).digest('hex'),
  };
}

/** certFacts, or why `cert` cannot be read: for certificates a peer or a user hands us, refused rather than thrown. */
export type CertReading = { facts: CertFacts; unreadable?: undefined } | { facts?: undefined; unreadable: string };

export function readCertFacts(cert: X509Certificate, what?: string): CertReading {
  try {
    return { facts: certFacts(cert, what) };
  } catch (err) {
    if (err instanceof CredentialError) return { unreadable: err.message };
    throw err;
  }
}

/** The serial's DER bytes as hex, without the 00 that only keeps a high bit positive. */
function serialHex(der: Uint8Array): string {
  const bytes = der.length > 1 && der[0] === 0 && der[1]! > 0x7f ? der.subarray(1) : der;
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

export const KeyUsage = KeyUsageFlags;
export const EKU_SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
export const EKU_CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';

// Build X.509 certificates with @peculiar/x509 (WebCrypto): the dev issuer uses
// it for CAs and SVIDs, and the tests use it for every kind of bad certificate.
import { randomBytes } from 'node:crypto';
import { x509 } from '../identity/peculiar.js';
import { generateKeyPair, toPem, type KeyPair, type KeyType } from './keys.js';


export interface Issuer {
  cert: x509.X509Certificate;
  key: KeyPair;
}

export interface CertificateSpec {
  /** Distinguished name, e.g. `CN=backend, O=tlsmesh`. */
  subject: string;
  /** Undefined: self-signed with `key`. */
  issuer?: Issuer;
  key?: KeyPair;
  keyType?: KeyType;
  notBefore?: Date;
  notAfter?: Date;
  isCa?: boolean;
  pathLength?: number;
  uris?: string[];
  dnsNames?: string[];
  /** KeyUsageFlags bitmask; default: CA -> keyCertSign|cRLSign|digitalSignature, leaf -> digitalSignature|keyEncipherment. */
  keyUsage?: number;
  /** Extended key usage OIDs; default leaf: serverAuth + clientAuth; CA: none. Empty array: omit. */
  extKeyUsage?: string[];
  serialHex?: string;
  /**
   * Tests only: a subjectAltName extension whose contents do not decode, in
   * place of the names. Node and OpenSSL still parse such a certificate (they
   * decode an extension only when they check it), so a peer can send it.
   */
  undecodableSan?: boolean;
}

export interface Issued {
  cert: x509.X509Certificate;
  key: KeyPair;
  certPem: string;
  der: Buffer;
}

export const EKU_SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
export const EKU_CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';

/** A random positive serial of 16 bytes, lowercase hex. */
export function randomSerial(): string {
  const b = randomBytes(16);
  b[0] = (b[0]! & 0x7f) | 0x01;
  return b.toString('hex');
}

export async function buildCertificate(spec: CertificateSpec): Promise<Issued> {
  const key = spec.key ?? (await generateKeyPair(spec.keyType ?? 'ec-p256'));
  const isCa = spec.isCa ?? false;
  const notBefore = spec.notBefore ?? new Date(Date.now() - 1000);
  const notAfter = spec.notAfter ?? new Date(notBefore.getTime() + 24 * 3600_000);
  const F = x509.KeyUsageFlags;
  const usage = spec.keyUsage ?? (isCa ? F.keyCertSign | F.cRLSign | F.digitalSignature : F.digitalSignature | F.keyEncipherment);
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(isCa, isCa ? spec.pathLength : undefined, true),
    new x509.KeyUsagesExtension(usage, true),
    await x509.SubjectKeyIdentifierExtension.create(key.keys.publicKey),
  ];
  const eku = spec.extKeyUsage ?? (isCa ? [] : [EKU_SERVER_AUTH, EKU_CLIENT_AUTH]);
  if (eku.length) extensions.push(new x509.ExtendedKeyUsageExtension(eku, false));
  const names: x509.JsonGeneralName[] = [
    ...(spec.uris ?? []).map((value) => ({ type: 'url' as const, value })),
    ...(spec.dnsNames ?? []).map((value) => ({ type: 'dns' as const, value })),
  ];
  // SPIFFE: the SAN is critical when the subject is empty; we always set a subject.
  // A SEQUENCE holding an OCTET STRING: no GeneralName is encoded that way.
  if (spec.undecodableSan) extensions.push(new x509.Extension('2.5.29.17', false, Buffer.from('300304010a', 'hex')));
  else if (names.length) extensions.push(new x509.SubjectAlternativeNameExtension(names, false));
  const signer = spec.issuer?.key ?? key;
  if (spec.issuer) extensions.push(await x509.AuthorityKeyIdentifierExtension.create(spec.issuer.key.keys.publicKey));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: spec.serialHex ?? randomSerial(),
    subject: spec.subject,
    issuer: spec.issuer ? spec.issuer.cert.subject : spec.subject,
    notBefore,
    notAfter,
    publicKey: key.keys.publicKey,
    signingKey: signer.keys.privateKey,
    signingAlgorithm: signer.signingAlgorithm,
    extensions,
  });
  const der = Buffer.from(cert.rawData);
  return { cert, key, der, certPem: toPem('CERTIFICATE', der) };
}

export function parsePeculiar(pem: string): x509.X509Certificate {
  return new x509.X509Certificate(pem);
}

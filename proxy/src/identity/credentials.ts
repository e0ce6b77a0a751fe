// Validate a candidate identity (tls.crt, tls.key, trust bundle) and freeze it
// as one Credentials generation. Nothing is published unless all checks pass.
import { createHash, type X509Certificate } from 'node:crypto';
import { CredentialError } from '../errors.js';
import { verifyChain, oneLineDn } from './chain.js';
import { SpiffeId } from './spiffe-id.js';
import { checkSvid } from './svid.js';
import { certFacts, keyMatchesCertificate, parseCertificates, parsePrivateKey, type CertFacts } from './x509.js';
import { spkiPinOf } from './pin.js';

export interface TrustAnchor {
  subject: string;
  spkiPin: string;
  notAfter: string;
}

export interface Credentials {
  readonly generation: number;
  /** PEM: leaf first, then intermediates. */
  readonly certPem: string;
  /** PEM private key. Never logged, printed or served. */
  readonly keyPem: string;
  readonly bundlePem: string;
  readonly spiffeId: SpiffeId;
  readonly leaf: CertFacts;
  readonly chain: readonly X509Certificate[];
  readonly anchors: readonly X509Certificate[];
  readonly anchorInfo: readonly TrustAnchor[];
  /** SHA-256 over the three inputs, hex: what /certs reports as the fingerprint in use. */
  readonly fingerprint: string;
  readonly loadedAt: number;
}

export interface Candidate {
  cert: Buffer;
  key: Buffer;
  bundle: Buffer;
}

export function fingerprintOf(c: Partial<Candidate>): string {
  const h = createHash('sha256');
  for (const part of [c.cert, c.key, c.bundle]) {
    h.update(part ?? Buffer.alloc(0));
    h.update('\0');
  }
  return h.digest('hex');
}

export function parseBundle(bundle: Buffer | string, what: string): X509Certificate[] {
  return parseCertificates(bundle, what);
}

export interface ValidateOptions {
  trustDomain: string;
  now: number;
  skewMs: number;
  generation: number;
  bundleName: string;
}

/** Throws CredentialError naming the first problem; a test asserts each one. */
export function validateCandidate(c: Candidate, o: ValidateOptions): Credentials {
  const chain = parseCertificates(c.cert, 'tls.crt');
  const key = parsePrivateKey(c.key, 'tls.key');
  const anchors = parseBundle(c.bundle, o.bundleName);
  const leafCert = chain[0]!;
  if (!keyMatchesCertificate(key, leafCert)) throw new CredentialError('tls.key does not match the certificate in tls.crt');
  const leaf = certFacts(leafCert, 'tls.crt');
  const svid = checkSvid(leaf, o.trustDomain, 'any');
  if (!svid.ok) throw new CredentialError(`tls.crt is not an X509-SVID of ${o.trustDomain}: ${svid.problem}`);
  const verdict = verifyChain(leafCert, chain.slice(1), anchors, o.now, o.skewMs);
  if (!verdict.ok) {
    const what = verdict.reason === 'untrusted' ? `does not chain to ${o.bundleName}` : verdict.reason.replace(/_/g, ' ');
    throw new CredentialError(`tls.crt ${what}: ${verdict.detail}`);
  }
  return Object.freeze({
    generation: o.generation,
    certPem: c.cert.toString('utf8'),
    keyPem: c.key.toString('utf8'),
    bundlePem: c.bundle.toString('utf8'),
    spiffeId: svid.id,
    leaf,
    chain: Object.freeze(chain),
    anchors: Object.freeze(anchors),
    anchorInfo: Object.freeze(anchors.map(anchorInfoOf)),
    fingerprint: fingerprintOf(c),
    loadedAt: o.now,
  });
}

export function anchorInfoOf(a: X509Certificate): TrustAnchor {
  return { subject: oneLineDn(a.subject), spkiPin: spkiPinOf(a), notAfter: new Date(Date.parse(a.validTo)).toISOString() };
}

/** Does `creds`' leaf chain to `anchors` (used to warn during CA rotation)? */
export function chainsTo(creds: Credentials, anchors: readonly X509Certificate[]): boolean {
  return verifyChain(creds.chain[0]!, creds.chain.slice(1), anchors).ok;
}

export { SpiffeId };

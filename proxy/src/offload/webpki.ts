// Validate an offload server certificate (tls.crt, tls.key, optional ca.crt) by
// WebPKI rules, not SVID rules: the key matches, the leaf is an end-entity
// certificate fit for serverAuth, it is inside its validity window, it carries
// DNS SANs covering the configured names, and its chain either reaches its own
// ca.crt (a private CA) or is at least internally consistent (a public chain,
// whose root the clients hold). Nothing is published unless every check passes.
import type { X509Certificate } from 'node:crypto';
import { CredentialError } from '../errors.js';
import { oneLineDn, verifyChain } from '../identity/chain.js';
import { fingerprintOf as credentialsFingerprint } from '../identity/credentials.js';
import { certFacts, EKU_SERVER_AUTH, keyMatchesCertificate, parseCertificates, parsePrivateKey, type CertFacts } from '../identity/x509.js';
import { certificateCovers } from './names.js';

export interface ServerCertificate {
  /** PEM: leaf first, then intermediates (what the server sends). */
  readonly certPem: string;
  /** PEM private key. Never logged, printed or served. */
  readonly keyPem: string;
  readonly leaf: CertFacts;
  readonly chain: readonly X509Certificate[];
  /** The names this certificate is served for: configured, or its DNS SANs. */
  readonly names: readonly string[];
  /** SHA-256 over the inputs, hex. */
  readonly fingerprint: string;
  /** The OCSP responder named by the leaf's Authority Information Access, if any. */
  readonly ocspUrl: string | undefined;
  /** The leaf's issuer (the next certificate of tls.crt, or the ca.crt anchor), for OCSP. */
  readonly issuer: X509Certificate | undefined;
}

export interface WebPkiInput {
  cert: Buffer;
  key: Buffer;
  /** ca.crt, when the Secret carries one (private CA): the chain must reach it. */
  ca?: Buffer;
}

export interface WebPkiOptions {
  now: number;
  skewMs: number;
  /** Configured names the certificate must cover; undefined: serve its DNS SANs. */
  names?: readonly string[];
}

/** SHA-256 over the inputs, hex: the identity store's fingerprint, with ca.crt as the third part. */
export function fingerprintOf(c: WebPkiInput): string {
  return credentialsFingerprint({ cert: c.cert, key: c.key, bundle: c.ca });
}

/** Throws CredentialError naming the first problem. */
export function validateServerCertificate(c: WebPkiInput, o: WebPkiOptions): ServerCertificate {
  const chain = parseCertificates(c.cert, 'tls.crt');
  const key = parsePrivateKey(c.key, 'tls.key');
  const leafCert = chain[0]!;
  if (!keyMatchesCertificate(key, leafCert)) throw new CredentialError('tls.key does not match the certificate in tls.crt');
  const leaf = certFacts(leafCert, 'tls.crt');
  if (leaf.isCa) throw new CredentialError('tls.crt: the leaf is a CA certificate, not a server certificate');
  if (leaf.extKeyUsage && !leaf.extKeyUsage.includes(EKU_SERVER_AUTH)) throw new CredentialError('tls.crt: extended key usage does not include serverAuth');
  if (leaf.dnsNames.length === 0) throw new CredentialError('tls.crt: no DNS subject alternative names (clients ignore the common name)');
  if (o.now + o.skewMs < leaf.notBefore) throw new CredentialError(`tls.crt not yet valid: valid from ${iso(leaf.notBefore)}`);
  if (o.now - o.skewMs > leaf.notAfter) throw new CredentialError(`tls.crt expired: expired at ${iso(leaf.notAfter)}`);
  const names = o.names ?? leaf.dnsNames.map((n) => n.toLowerCase());
  const uncovered = names.filter((n) => !certificateCovers(leaf.dnsNames, n));
  if (uncovered.length) throw new CredentialError(`tls.crt does not cover ${uncovered.join(', ')} (DNS SANs: ${leaf.dnsNames.join(', ')})`);
  let issuer = chain[1];
  if (c.ca && c.ca.toString('utf8').trim() !== '') {
    const anchors = parseCertificates(c.ca, 'ca.crt');
    const verdict = verifyChain(leafCert, chain.slice(1), anchors, o.now, o.skewMs);
    if (!verdict.ok) {
      const what = verdict.reason === 'untrusted' ? 'does not chain to ca.crt' : verdict.reason.replace(/_/g, ' ');
      throw new CredentialError(`tls.crt ${what}: ${verdict.detail}`);
    }
    issuer = verdict.path[1];
  } else {
    checkChainOrder(chain);
  }
  return Object.freeze({
    certPem: c.cert.toString('utf8'),
    keyPem: c.key.toString('utf8'),
    leaf,
    chain: Object.freeze(chain),
    names: Object.freeze([...new Set(names)]),
    fingerprint: fingerprintOf(c),
    ocspUrl: ocspUrlOf(leafCert),
    issuer,
  });
}

/** Without a ca.crt: every certificate of tls.crt must be signed by the next one. */
function checkChainOrder(chain: readonly X509Certificate[]): void {
  for (let i = 0; i + 1 < chain.length; i++) {
    const child = chain[i]!;
    const parent = chain[i + 1]!;
    let ok = false;
    try {
      ok = child.checkIssued(parent) && child.verify(parent.publicKey);
    } catch {
      ok = false;
    }
    if (!ok) throw new CredentialError(`tls.crt: certificate ${i + 2} (${oneLineDn(parent.subject)}) did not issue certificate ${i + 1} (${oneLineDn(child.subject)}): wrong order or a missing intermediate`);
  }
}

function ocspUrlOf(cert: X509Certificate): string | undefined {
  const m = /OCSP - URI:(\S+)/.exec(cert.infoAccess ?? '');
  return m?.[1];
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

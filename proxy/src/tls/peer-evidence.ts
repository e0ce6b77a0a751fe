// What a finished handshake tells us about the peer, as PeerEvidence for the
// pure checks. Reading a certificate (the leaf's SANs and usages, a chain
// certificate's pin) is done once per distinct certificate and cached; the
// per-handshake work is a few map lookups.
import { X509Certificate } from 'node:crypto';
import type { DetailedPeerCertificate, TLSSocket } from 'node:tls';
import { verifyChain } from '../identity/chain.js';
import type { PeerEvidence } from '../identity/peer-check.js';
import { spkiPinOf } from '../identity/pin.js';
import { readCertFacts, type CertFacts, type CertReading } from '../identity/x509.js';

const MAX_ENTRIES = 10_000;

function bounded<K, V>(map: Map<K, V>, key: K, value: V): V {
  if (map.size >= MAX_ENTRIES) map.delete(map.keys().next().value as K);
  map.set(key, value);
  return value;
}

/** Caches keyed by the SHA-256 fingerprint of a certificate's DER. */
export class PeerCache {
  private readonly facts = new Map<string, CertFacts>();
  private readonly keyPins = new Map<string, string>();
  private readonly pins = new Map<string, string[]>();

  /** A certificate that cannot be read is not cached: it is refused. */
  factsOf(cert: X509Certificate): CertReading {
    const fp = cert.fingerprint256;
    const known = this.facts.get(fp);
    if (known) return { facts: known };
    const r = readCertFacts(cert, 'the peer certificate');
    if (r.facts) bounded(this.facts, fp, r.facts);
    return r;
  }

  /** The SPKI pin of a chain certificate: its key only, which Node reads (its extensions are the chain check's). */
  keyPinOf(cert: X509Certificate): string {
    const fp = cert.fingerprint256;
    return this.keyPins.get(fp) ?? bounded(this.keyPins, fp, spkiPinOf(cert));
  }

  /** Chain pins recorded at the full handshake, for resumed sessions (which carry only the leaf). */
  chainPinsOf(fingerprint: string): string[] | undefined {
    return this.pins.get(fingerprint);
  }

  rememberChainPins(fingerprint: string, pins: string[]): void {
    bounded(this.pins, fingerprint, pins);
  }

  /** A new trust bundle changes which chains verify: forget what was learned under the old one. */
  clearChains(): void {
    this.pins.clear();
  }
}

/** OpenSSL's verify result code -> our reason. */
export function chainVerdict(code: string | null | undefined): PeerEvidence['chain'] {
  if (!code) return { ok: true };
  switch (code) {
    case 'CERT_HAS_EXPIRED':
      return { ok: false, reason: 'expired', detail: 'certificate has expired' };
    case 'CERT_NOT_YET_VALID':
      return { ok: false, reason: 'not_yet_valid', detail: 'certificate is not yet valid' };
    case 'INVALID_PURPOSE':
      return { ok: false, reason: 'bad_svid', detail: 'extended key usage does not allow this TLS role (INVALID_PURPOSE)' };
    default:
      return { ok: false, reason: 'untrusted', detail: `no valid chain to the trust bundle (${code})` };
  }
}

function chainDers(detailed: DetailedPeerCertificate | undefined): X509Certificate[] {
  const out: X509Certificate[] = [];
  let c = detailed;
  const seen = new Set<string>();
  while (c && c.raw && !seen.has(c.fingerprint256) && out.length < 10) {
    seen.add(c.fingerprint256);
    out.push(new X509Certificate(c.raw));
    c = c.issuerCertificate;
  }
  return out;
}

export interface EvidenceOptions {
  cache: PeerCache;
  /** Compute chain pins (only when the listener has pins). */
  needPins: boolean;
  anchors: readonly X509Certificate[];
  skewMs: number;
  now: number;
}

export function evidenceFromSocket(socket: TLSSocket, o: EvidenceOptions): PeerEvidence {
  let chain = chainVerdict((socket as unknown as { authorizationError?: string }).authorizationError);
  const timeError = !chain.ok && (chain.reason === 'expired' || chain.reason === 'not_yet_valid');
  const wantChain = o.needPins || (timeError && o.skewMs > 0);
  // Node quirk: getPeerX509Certificate() drops the issuer links that a later
  // getPeerCertificate(true) would return, so the detailed chain comes first.
  const detailed = wantChain ? socket.getPeerCertificate(true) : undefined;
  const leafCert = socket.getPeerX509Certificate();
  if (!leafCert) return { leaf: undefined, chain: { ok: false, reason: 'untrusted', detail: 'no certificate' }, chainPins: [] };
  // Sent by anyone who reaches the port, before any check: an unreadable one is refused, never thrown.
  const { facts: leaf, unreadable } = o.cache.factsOf(leafCert);
  if (!leaf) return { leaf: undefined, unreadable, chain, chainPins: [] };
  let chainPins: string[] = [];
  if (wantChain) {
    const fp = leafCert.fingerprint256;
    const resumed = socket.isSessionReused();
    const cached = resumed ? o.cache.chainPinsOf(fp) : undefined;
    if (cached && !timeError) {
      chainPins = cached;
    } else {
      const certs = chainDers(detailed);
      if (timeError && o.skewMs > 0) chain = withinSkew(certs, o);
      chainPins = certs.map((c) => o.cache.keyPinOf(c));
      if (chain.ok && !resumed) o.cache.rememberChainPins(fp, chainPins);
    }
  }
  return { leaf, chain, chainPins };
}

/** OpenSSL said "expired"/"not yet valid": accept only if the whole chain is otherwise sound and within the skew. */
function withinSkew(certs: X509Certificate[], o: EvidenceOptions): PeerEvidence['chain'] {
  const [leaf, ...rest] = certs;
  if (!leaf) return { ok: false, reason: 'untrusted', detail: 'no certificate' };
  const r = verifyChain(leaf, rest, o.anchors, o.now, o.skewMs);
  return r.ok ? { ok: true } : { ok: false, reason: r.reason, detail: r.detail };
}

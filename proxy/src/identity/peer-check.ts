// The peer checks every listener runs, and `tlsmesh verify` prints: a chain of
// small named checks, each passing or failing with the reason label of
// tlsmesh_handshakes_total. The first failure decides.
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import type { ChainFailure } from './chain.js';
import type { IdMatcher, SpiffeId } from './spiffe-id.js';
import type { PinSet } from './pin.js';
import { checkSvid, type TlsRole } from './svid.js';
import type { CertFacts } from './x509.js';

export const REFUSAL_REASONS = [
  'untrusted',
  'expired',
  'not_yet_valid',
  'no_peer_cert',
  'bad_svid',
  'identity_denied',
  'pin_mismatch',
  'protocol',
] as const;
export type RefusalReason = (typeof REFUSAL_REASONS)[number];

export interface PeerPolicy {
  trustDomain: string;
  /** Undefined: any SVID of trustDomain. An empty matcher denies everything. */
  allow: IdMatcher | undefined;
  pins: PinSet | undefined;
  /** What the peer must be fit for: a TLS client (inbound) or server (outbound). */
  role: TlsRole;
  skewMs: number;
  /**
   * Check a DNS name instead of an X509-SVID (TLS to an app or an offload
   * upstream, which hold ordinary WebPKI certificates). Ignored when `allow` is set.
   */
  dnsName?: string;
}

export interface PeerEvidence {
  /** Undefined when the peer sent no certificate, or one that cannot be read (`unreadable`). */
  leaf: CertFacts | undefined;
  /** Why the peer's certificate could not be read (an extension that does not decode): certFacts' error. */
  unreadable?: string;
  /** The verdict of chain building and verification against the trust bundle. */
  chain: { ok: true } | { ok: false; reason: ChainFailure | 'bad_svid'; detail: string };
  /** SPKI pins of every certificate of the verified chain (leaf, intermediates, anchor). */
  chainPins: readonly string[];
}

export type PeerDecision =
  /** `id` is undefined only for DNS-name policies. */
  | { ok: true; id: SpiffeId; leaf: CertFacts }
  | { ok: false; reason: RefusalReason; detail: string; id?: SpiffeId; leaf?: CertFacts };

export interface CheckResult {
  check: string;
  ok: boolean;
  reason?: RefusalReason;
  detail: string;
}

type Check = (e: Required<Pick<PeerEvidence, 'leaf'>> & PeerEvidence, p: PeerPolicy, now: number, id: SpiffeId | undefined) => CheckResult;

function chainResult(chain: PeerEvidence['chain']): CheckResult {
  return chain.ok
    ? { check: 'chain', ok: true, detail: 'chains to the trust bundle' }
    : { check: 'chain', ok: false, reason: chain.reason, detail: chain.detail };
}

const chainCheck: Check = (e) => chainResult(e.chain);

const validityCheck: Check = (e, p, now) => {
  const leaf = e.leaf!;
  if (now + p.skewMs < leaf.notBefore) {
    return { check: 'validity', ok: false, reason: 'not_yet_valid', detail: `valid from ${iso(leaf.notBefore)}, now ${iso(now)}` };
  }
  if (now - p.skewMs > leaf.notAfter) {
    return { check: 'validity', ok: false, reason: 'expired', detail: `expired at ${iso(leaf.notAfter)}, now ${iso(now)}` };
  }
  return { check: 'validity', ok: true, detail: `${iso(leaf.notBefore)} .. ${iso(leaf.notAfter)}` };
};

const dnsCheck: Check = (e, p) => {
  const err = checkServerIdentity(p.dnsName!, { subject: {}, subjectaltname: e.leaf!.dnsNames.map((n) => `DNS:${n}`).join(', ') } as unknown as PeerCertificate);
  return err
    ? { check: 'name', ok: false, reason: 'identity_denied', detail: `no DNS SAN matches ${p.dnsName} (has ${e.leaf!.dnsNames.join(', ') || 'none'})` }
    : { check: 'name', ok: true, detail: `DNS name ${p.dnsName} matches` };
};

const svidCheck: Check = (e, p, now, id) => {
  if (p.dnsName !== undefined && !p.allow) return dnsCheck(e, p, now, id);
  const r = checkSvid(e.leaf!, p.trustDomain, p.role);
  return r.ok
    ? { check: 'svid', ok: true, detail: `X509-SVID ${r.id.toString()}` }
    : { check: 'svid', ok: false, reason: 'bad_svid', detail: r.problem };
};

const identityCheck: Check = (_e, p, _now, id) => {
  if (p.dnsName !== undefined && !p.allow) return { check: 'identity', ok: true, detail: 'checked by DNS name' };
  if (!id) return { check: 'identity', ok: false, reason: 'bad_svid', detail: 'no SPIFFE ID' };
  if (!p.allow) return { check: 'identity', ok: true, detail: `${id.toString()} (any SVID of ${p.trustDomain})` };
  return p.allow.matches(id)
    ? { check: 'identity', ok: true, detail: `${id.toString()} is allowed` }
    : { check: 'identity', ok: false, reason: 'identity_denied', detail: `${id.toString()} is not allowed` };
};

const pinCheck: Check = (e, p) => {
  if (!p.pins) return { check: 'pins', ok: true, detail: 'no pins configured' };
  return p.pins.matchesAny(e.chainPins)
    ? { check: 'pins', ok: true, detail: 'a certificate of the chain matches a pin' }
    : { check: 'pins', ok: false, reason: 'pin_mismatch', detail: `none of ${e.chainPins.length} chain certificates matches the ${p.pins.size} pin(s)` };
};

const CHECKS: readonly Check[] = [chainCheck, validityCheck, svidCheck, identityCheck, pinCheck];

function svidId(e: PeerEvidence, p: PeerPolicy): SpiffeId | undefined {
  if (p.dnsName !== undefined && !p.allow) return undefined;
  const r = checkSvid(e.leaf!, p.trustDomain, p.role);
  return r.ok ? r.id : undefined;
}

/**
 * A certificate we cannot read is refused: for its chain when that fails too
 * (the first check decides, and OpenSSL refuses to build a chain through a
 * certificate whose extensions do not decode), else as no valid SVID.
 */
function unreadableChecks(chain: PeerEvidence['chain'], unreadable: string): CheckResult[] {
  return [chainResult(chain), { check: 'svid', ok: false, reason: 'bad_svid', detail: unreadable }];
}

/** The decision of the proxy: stops at the first failed check. */
export function checkPeer(e: PeerEvidence, p: PeerPolicy, now: number): PeerDecision {
  if (!e.leaf && e.unreadable !== undefined) {
    const r = unreadableChecks(e.chain, e.unreadable).find((c) => !c.ok)!;
    return { ok: false, reason: r.reason!, detail: r.detail };
  }
  if (!e.leaf) return { ok: false, reason: 'no_peer_cert', detail: 'the peer sent no certificate' };
  const id = svidId(e, p);
  for (const check of CHECKS) {
    const r = check(e as Required<PeerEvidence>, p, now, id);
    if (!r.ok) return { ok: false, reason: r.reason!, detail: r.detail, id, leaf: e.leaf };
  }
  return { ok: true, id, leaf: e.leaf } as PeerDecision;
}

/** Every check with its result, for `tlsmesh verify`: the same checks, none skipped. */
export function explainPeer(e: PeerEvidence, p: PeerPolicy, now: number): CheckResult[] {
  if (!e.leaf && e.unreadable !== undefined) return unreadableChecks(e.chain, e.unreadable);
  if (!e.leaf) return [{ check: 'certificate', ok: false, reason: 'no_peer_cert', detail: 'no certificate' }];
  const id = svidId(e, p);
  return CHECKS.map((check) => check(e as Required<PeerEvidence>, p, now, id));
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

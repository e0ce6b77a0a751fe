// Chain verification in JavaScript, for the places where no TLS handshake has
// run it for us: our own new identity before we publish it, `tlsmesh verify`,
// and the clock-skew allowance. Signatures are checked by node:crypto.
import type { X509Certificate } from 'node:crypto';

export type ChainFailure = 'untrusted' | 'expired' | 'not_yet_valid';

export type ChainResult =
  | { ok: true; path: X509Certificate[] }
  | { ok: false; reason: ChainFailure; detail: string; path: X509Certificate[] };

const MAX_DEPTH = 8;

function issuedBy(child: X509Certificate, parent: X509Certificate): boolean {
  try {
    return child.checkIssued(parent) && child.verify(parent.publicKey);
  } catch {
    return false;
  }
}

/**
 * Build a path from `leaf` through `intermediates` to one of `anchors` and check
 * it. With `atMs`, every certificate on the path must be valid at that time,
 * allowing `skewMs` either side.
 */
export function verifyChain(
  leaf: X509Certificate,
  intermediates: readonly X509Certificate[],
  anchors: readonly X509Certificate[],
  atMs?: number,
  skewMs = 0,
): ChainResult {
  const path: X509Certificate[] = [leaf];
  let current = leaf;
  let anchored = anchors.some((a) => a.raw.equals(leaf.raw));
  while (!anchored) {
    if (path.length > MAX_DEPTH) return { ok: false, reason: 'untrusted', detail: 'chain too long', path };
    const anchor = anchors.find((a) => issuedBy(current, a));
    if (anchor) {
      if (!anchor.ca) return { ok: false, reason: 'untrusted', detail: `trust anchor ${anchor.subject} is not a CA`, path };
      path.push(anchor);
      anchored = true;
      break;
    }
    const next = intermediates.find((i) => !path.includes(i) && issuedBy(current, i));
    if (!next) {
      return { ok: false, reason: 'untrusted', detail: `no chain from ${oneLineDn(current.subject)} to the trust bundle`, path };
    }
    if (!next.ca) return { ok: false, reason: 'untrusted', detail: `issuer ${oneLineDn(next.subject)} is not a CA`, path };
    path.push(next);
    current = next;
  }
  if (atMs !== undefined) {
    for (const cert of path) {
      const nb = Date.parse(cert.validFrom);
      const na = Date.parse(cert.validTo);
      if (atMs + skewMs < nb) {
        return { ok: false, reason: 'not_yet_valid', detail: `${oneLineDn(cert.subject)} is valid from ${new Date(nb).toISOString()}`, path };
      }
      if (atMs - skewMs > na) {
        return { ok: false, reason: 'expired', detail: `${oneLineDn(cert.subject)} expired at ${new Date(na).toISOString()}`, path };
      }
    }
  }
  return { ok: true, path };
}

/** Node prints DNs one RDN per line; logs want one line. */
export function oneLineDn(dn: string): string {
  return dn.split('\n').filter(Boolean).join(', ');
}

// Safety checks when a new identity or trust bundle arrives (CA rotation
// without restarts): pure functions of the old and new generations.
import { PinSet, spkiPinOf } from './pin.js';
import { chainsTo, type Credentials } from './credentials.js';

export interface RotationWarning {
  kind: 'own_leaf_outside_bundle' | 'pins_no_longer_match';
  message: string;
}

/** The SPKI pins of what we present (leaf, intermediates) and of our trust anchors. */
export function presentedPins(c: Credentials): string[] {
  return [c.leaf.spkiPin, ...c.chain.slice(1).map((x) => spkiPinOf(x)), ...c.anchorInfo.map((a) => a.spkiPin)];
}

export function rotationWarnings(next: Credentials, prev: Credentials | undefined, configuredPins: readonly string[]): RotationWarning[] {
  const out: RotationWarning[] = [];
  if (prev && next.bundlePem !== prev.bundlePem && !chainsTo(next, next.anchors)) {
    out.push({ kind: 'own_leaf_outside_bundle', message: 'the new trust bundle does not hold the CA of our own identity: peers using this bundle will refuse us' });
  }
  if (configuredPins.length > 0) {
    const pins = PinSet.from(configuredPins);
    const matchedBefore = prev ? pins.matchesAny(presentedPins(prev)) : true;
    if (matchedBefore && !pins.matchesAny(presentedPins(next))) {
      out.push({
        kind: 'pins_no_longer_match',
        message: 'none of the pins configured on our listeners matches our new chain or trust anchors: peers pinning the same keys will refuse us (pin the CA to survive leaf key rotation)',
      });
    }
  }
  return out;
}

/** Connections must be recycled when our certificate or key changed, or an anchor left the bundle. */
export function needsRecycle(next: Credentials, prev: Credentials): boolean {
  if (next.certPem !== prev.certPem || next.keyPem !== prev.keyPem) return true;
  const kept = new Set(next.anchorInfo.map((a) => a.spkiPin));
  return prev.anchorInfo.some((a) => !kept.has(a.spkiPin));
}

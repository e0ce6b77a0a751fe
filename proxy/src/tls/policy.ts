// A listener's peer policy, compiled once from its config slice.
import type { Logger } from '../log.js';
import { IdMatcher } from '../identity/spiffe-id.js';
import { PinSet } from '../identity/pin.js';
import type { PeerPolicy } from '../identity/peer-check.js';
import type { TlsRole } from '../identity/svid.js';

export interface PolicyInput {
  trustDomain: string;
  ids: readonly string[] | undefined;
  pins: readonly string[] | undefined;
  role: TlsRole;
  skewMs: number;
}

export function compilePolicy(p: PolicyInput, log: Logger, listener: string): PeerPolicy {
  if (p.pins && p.pins.length === 1) {
    log.warn({ event: 'single_pin', listener }, 'only one pin configured: there is no backup pin, so rotating the pinned key will lock peers out (RFC 7469 asks for a backup pin)');
  }
  return {
    trustDomain: p.trustDomain,
    allow: p.ids ? IdMatcher.compile(p.ids) : undefined,
    pins: p.pins && p.pins.length > 0 ? PinSet.from(p.pins) : undefined,
    role: p.role,
    skewMs: p.skewMs,
  };
}

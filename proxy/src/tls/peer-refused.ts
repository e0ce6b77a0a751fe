import { TlsmeshError } from '../errors.js';
import type { RefusalReason } from '../identity/peer-check.js';

/** A peer failed the checks; `reason` is the label of tlsmesh_handshakes_total. */
export class PeerRefusedError extends TlsmeshError {
  constructor(
    readonly reason: RefusalReason,
    readonly detail: string,
    readonly peer?: string,
  ) {
    super('TLSMESH_ERR_PEER_IDENTITY', `peer refused: ${reason}: ${detail}`);
  }
}

/** The app or the peer could not be reached (connect, reset, timeout, TLS). */
export class UpstreamError extends TlsmeshError {
  constructor(
    readonly kind: 'connect' | 'reset' | 'timeout' | 'tls' | 'not_ready',
    message: string,
    options?: { cause?: unknown },
  ) {
    super('TLSMESH_ERR_UPSTREAM', message, options);
  }
}

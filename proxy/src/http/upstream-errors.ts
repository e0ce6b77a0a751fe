// A failure to reach the upstream (the app for inbound, a peer for outbound),
// as both http listeners report it whichever engine forwards: counted by kind
// unless our own dialer already counted it, logged once, and turned into the
// short body of the 502 the client gets.
import { TlsmeshError } from '../errors.js';
import type { RequestRecorder } from './request-record.js';

/** Count and log `err` (reaching `url`) for the listener `o` describes; returns the body of the 502. */
export function reportUpstreamError(err: Error, url: string, o: Pick<RequestRecorder, 'direction' | 'listener' | 'metrics' | 'log'>): string {
  const { direction, listener, metrics, log } = o;
  // Our dialers (mTLS to peers, TLS to the app) counted their own failures; count the rest here.
  if (!(err instanceof TlsmeshError)) metrics.upstreamErrors.labels(direction, kindOf(err)).inc();
  const what = direction === 'inbound' ? 'app unreachable' : err.name === 'PeerRefusedError' ? 'peer refused' : 'peer unreachable';
  log.warn({ event: 'upstream_error', direction, listener, upstream: url, error: err.message }, what);
  return upstreamMessage(err);
}

/** The short body of a 502: our own errors say what happened, system errors give their code. */
export function upstreamMessage(err: Error): string {
  if (err instanceof TlsmeshError) return err.message;
  return `upstream unavailable: ${(err as NodeJS.ErrnoException).code ?? err.message}`;
}

export function kindOf(err: Error): 'connect' | 'reset' | 'timeout' | 'tls' {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ECONNRESET' || code === 'EPIPE') return 'reset';
  if (code === 'ETIMEDOUT') return 'timeout';
  if (err.name === 'PeerRefusedError' || err.name === 'UpstreamError') {
    const kind = (err as { kind?: string }).kind;
    if (kind === 'timeout') return 'timeout';
    if (kind === 'tls') return 'tls';
  }
  return 'connect';
}

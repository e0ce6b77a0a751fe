// A plaintext TCP connection that carries traffic (to the app, or outside the
// mesh): no Nagle, half-close carried, and a connect failure counted and told
// as an UpstreamError once.
import net, { type OnReadOpts, type Socket } from 'node:net';
import type { Direction, Metrics } from '../metrics.js';
import { UpstreamError } from '../tls/peer-refused.js';

export interface PlainTarget {
  host: string;
  port: number;
  /** How the error message names the destination. */
  name: string;
  /** Node's `onread`, for sockets whose reads go to a callback (the h1 engine's). */
  onread?: OnReadOpts;
}

export function connectPlain(t: PlainTarget, o: { direction: Direction; metrics: Metrics }, cb: (err: Error | null, socket?: Socket) => void): void {
  const s = net.connect({ host: t.host, port: t.port, allowHalfOpen: true, onread: t.onread });
  s.setNoDelay(true);
  const onError = (err: NodeJS.ErrnoException) => {
    o.metrics.upstreamErrors.labels(o.direction, 'connect').inc();
    cb(new UpstreamError('connect', `connect ${t.name}: ${err.code ?? err.message}`, { cause: err }));
  };
  s.once('error', onError);
  s.once('connect', () => {
    s.removeListener('error', onError);
    cb(null, s);
  });
}

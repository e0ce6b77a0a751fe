// Carry bytes both ways between two sockets with Node's own pipe (backpressure
// included), propagating half-close: a FIN from one end ends the other end's
// writable side while the opposite direction stays open. Both sockets must be
// created with allowHalfOpen.
import type { Socket } from 'node:net';

export interface SpliceResult {
  /** Bytes read from `a` (and written to `b`). */
  aToB: number;
  bToA: number;
  error?: Error;
}

export function splice(a: Socket, b: Socket, done: (r: SpliceResult) => void): void {
  let closed = 0;
  let error: Error | undefined;
  const onError = (err: Error) => {
    error ??= err;
    a.destroy();
    b.destroy();
  };
  // A clean close means both directions of that socket are done (pipe has
  // already ended the other one's writable side, which still flushes what it
  // buffered); an abrupt one takes the other socket down with it.
  const onClose = (hadError: boolean) => {
    closed += 1;
    if (hadError) {
      a.destroy();
      b.destroy();
    }
    if (closed === 2) done({ aToB: a.bytesRead, bToA: b.bytesRead, error });
  };
  a.on('error', onError);
  b.on('error', onError);
  // 'close' comes once per socket: on() spares the wrapper once() allocates,
  // which would live as long as the connection.
  a.on('close', onClose);
  b.on('close', onClose);
  a.pipe(b);
  b.pipe(a);
  a.resume();
  b.resume();
}

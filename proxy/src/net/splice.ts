// Carry bytes both ways between two duplexes (sockets, or a socket and an
// HTTP/2 stream of a multiplexed connection) with Node's own pipe
// (backpressure included), propagating half-close: a FIN (END_STREAM) from one
// end ends the other end's writable side while the opposite direction stays
// open. Sockets must be created with allowHalfOpen.
import type { Duplex } from 'node:stream';

export interface SpliceResult {
  error?: Error;
}

export function splice(a: Duplex, b: Duplex, done: (r: SpliceResult) => void): void {
  let closed = 0;
  let error: Error | undefined;
  const onError = (err: Error) => {
    error ??= err;
    a.destroy();
    b.destroy();
  };
  // A clean close means both directions of that end are done (pipe has
  // already ended the other one's writable side, which still flushes what it
  // buffered); anything else (an error, a reset stream, a local destroy)
  // takes the other end down with it.
  const onClose = function (this: Duplex, hadError?: boolean) {
    closed += 1;
    if (hadError || !this.readableEnded || !this.writableFinished) {
      a.destroy();
      b.destroy();
    }
    if (closed === 2) done({ error });
  };
  a.on('error', onError);
  b.on('error', onError);
  // 'close' comes once per end: on() spares the wrapper once() allocates,
  // which would live as long as the connection.
  a.on('close', onClose);
  b.on('close', onClose);
  a.pipe(b);
  b.pipe(a);
  a.resume();
  b.resume();
}

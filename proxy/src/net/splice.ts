// Carry bytes both ways between two duplexes (sockets, or a socket and an
// HTTP/2 stream of a multiplexed connection) with Node's own pipe
// (backpressure included), propagating half-close: a FIN (END_STREAM) from one
// end ends the other end's writable side while the opposite direction stays
// open. Sockets must be created with allowHalfOpen.
import type { Duplex } from 'node:stream';

export interface SpliceResult {
  error?: Error;
}

/**
 * `coalesce`: bulk reads that arrive within one turn of the event loop leave
 * in one writev (for a side that is an HTTP/2 stream, whose data comes in
 * frame-sized pieces; between sockets it costs more than it saves, measured).
 */
export function splice(a: Duplex, b: Duplex, done: (r: SpliceResult) => void, o: { coalesce?: boolean } = {}): void {
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
  if (o.coalesce) {
    coalesce(a, b);
    coalesce(b, a);
  }
  a.pipe(b);
  b.pipe(a);
  a.resume();
  b.resume();
}

/** Reads this large mean a bulk transfer: what arrives within one turn of the event loop leaves in one writev. */
const COALESCE_FROM = 8 * 1024;

/**
 * Bulk data from a multiplexed stream arrives in frame-sized pieces: hold the
 * writes to `to` until this turn of the event loop is over and send them in
 * one writev, instead of a system call each. Registered before pipe(), so the
 * cork is in place when pipe writes the chunk.
 */
function coalesce(from: Duplex, to: Duplex): void {
  // Node's TLS socket copies a writev into one buffer before encrypting it: no gain there.
  if ((to as { encrypted?: boolean }).encrypted) return;
  let corked = false;
  const uncork = () => {
    corked = false;
    to.uncork();
  };
  from.on('data', (chunk: Buffer) => {
    if (corked || chunk.length < COALESCE_FROM) return;
    corked = true;
    to.cork();
    setImmediate(uncork);
  });
}

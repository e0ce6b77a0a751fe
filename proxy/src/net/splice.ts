// Carry bytes both ways between two duplexes (sockets, or a socket and an
// HTTP/2 stream of a multiplexed connection) with Node's own pipe
// (backpressure included; for streams, a coalescing variant below),
// propagating half-close: a FIN (END_STREAM) from one end ends the other
// end's writable side while the opposite direction stays open. Sockets must
// be created with allowHalfOpen.
import type { Duplex } from 'node:stream';
import { TurnCork } from './turn-cork.js';

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
  const coalesce = o.coalesce === true;
  forward(a, b, coalesce);
  forward(b, a, coalesce);
  a.resume();
  b.resume();
}

function forward(from: Duplex, to: Duplex, coalesce: boolean): void {
  // Node's TLS socket copies a writev into one buffer before encrypting it: no gain there.
  if (coalesce && !(to as { encrypted?: boolean }).encrypted) coalescing(from, to);
  else from.pipe(to);
}

/** Reads this large mean a bulk transfer: what arrives within one turn of the event loop leaves in one writev. */
const COALESCE_FROM = 8 * 1024;

/**
 * What a coalescing writer holds before it pauses its source. pipe() pauses
 * at the destination's high-water mark (16 KiB for a socket), which a corked
 * turn's second frame already reaches: every turn then paid a pause, a
 * readStop of the stream, a drain and a readStart. Measured on 256 MiB
 * transfers over 4 multiplexed connections, builds interleaved: downloads 194
 * to 223 MiB/s before, 241 to 342 after (the receiving sidecar's CPU 810 to
 * 1,070 ms, then 570 to 740); uploads 193 to 250, then 248 to 329. It costs
 * memory only while a receiver reads slower than its sender sends.
 */
const COALESCE_LIMIT = 256 * 1024;

/**
 * pipe() for either direction of a multiplexed stream, whose data comes and
 * goes in frame-sized pieces: the writes to `to` within one turn of the
 * event loop leave together (one writev into a socket), and `from` pauses
 * only when `to` holds more than COALESCE_LIMIT.
 */
function coalescing(from: Duplex, to: Duplex): void {
  const turn = new TurnCork(to);
  const resume = () => from.resume();
  from.on('data', (chunk: Buffer) => {
    if (chunk.length >= COALESCE_FROM) turn.hold();
    // write() said no (its buffer is past the high-water mark), so 'drain' will come.
    if (!to.write(chunk) && to.writableLength >= COALESCE_LIMIT) {
      from.pause();
      to.once('drain', resume);
    }
  });
  from.once('end', () => to.end());
}

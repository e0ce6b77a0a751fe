// Reads of the h1 engine's upstream sockets (the pooled connections to peers
// and to the app, which we open ourselves) land in one buffer that all of them
// share, through Node's `onread` option, instead of a new buffer per read that
// goes through the socket's Readable stream. What arrives is borrowed: the
// next read of any upstream socket overwrites it, so whoever keeps bytes past
// the callback copies them first (flow.ts, `toDownBorrowed`). Reads are
// delivered one at a time from the event loop, which is what makes one buffer
// enough.
//
// Measured on a 512 MiB TLS download written on to a plain socket, in one
// process, 3 interleaved rounds: 2.43 to 2.96 ms of CPU per MiB through
// 'data' events and a corked writev per turn, 1.70 to 1.94 through this
// buffer and one write per turn of what it copied (see docs/benchmarks.md).
import type { OnReadOpts, Socket } from 'node:net';

/** What the engine's connection holding an upstream socket does with its bytes. */
export interface BorrowedReader {
  /** `buf[0, n)` is valid only until this returns. */
  upRead(buf: Buffer, n: number): void;
}

const OWNER = Symbol('tlsmesh.h1.upstreamOwner');
type Owned = Socket & { [OWNER]?: BorrowedReader };

/** TLS records carry at most 16 KiB; a plain socket's read is capped by this. */
const READ_SIZE = 64 * 1024;
const shared = Buffer.allocUnsafe(READ_SIZE);

function onRead(this: Owned, n: number, buf: Buffer): boolean {
  const owner = this[OWNER];
  if (owner !== undefined) {
    owner.upRead(buf, n);
    return true;
  }
  // No connection holds the socket (idle in the pool, or carried unparsed
  // after an upgrade): it behaves as a socket without `onread`, with a copy
  // pushed through its Readable stream ('data' listeners, pipe, back-pressure).
  const copy = Buffer.allocUnsafe(n);
  buf.copy(copy, 0, 0, n);
  return this.push(copy);
}

/** The `onread` option for `net.connect` / `tls.connect` of an upstream socket. */
export const upstreamOnRead: OnReadOpts = { buffer: shared, callback: onRead as OnReadOpts['callback'] };

/** From now on `s`'s bytes go to `owner` (undefined: back to its Readable stream). */
export function setUpstreamOwner(s: Socket, owner: BorrowedReader | undefined): void {
  (s as Owned)[OWNER] = owner;
}

// One accepted client connection of the h1 engine (engine.ts) and the
// upstream connection it holds, in three layers of one class: this base holds
// the state both directions share and the byte flow between the two sockets
// (attach/detach the upstream, writes with back-pressure, pausing, coalescing,
// accounting); response.ts adds the response side and the end of an exchange;
// conn.ts adds the request side and the connection's lifecycle. Layers, not
// separate objects: no closures or allocations per request, one hidden class.
import type { Socket } from 'node:net';
import type { ChunkedScanner } from './chunked.js';
import type { H1Engine, Route } from './engine.js';
import type { RequestHead } from './parse.js';
import { recordRequest } from '../request-record.js';
import { setUpstreamOwner, type BorrowedReader } from './borrowed-read.js';
import { TurnCork } from '../../net/turn-cork.js';

export const HEAD_END = Buffer.from('\r\n\r\n', 'latin1');
/**
 * Our own high-water mark for buffered writes (Node's default is 16 KiB, one
 * TLS record): past it the other side is paused. 1 MiB, Envoy's default
 * per-connection buffer limit: at 256 KiB the bulk bench paused and resumed
 * the upstream about 600 times a second and left the machine idle 14% of
 * the time (8 to 12% at 1 MiB; docs/benchmarks.md, "Deeper write buffers").
 */
const HIGH_WATER = 1024 * 1024;
const COALESCE_FROM = 8 * 1024;
/**
 * A body this large (either way) moves the client connection to the route's
 * bulk lane for its next requests (engine.ts, Route.bulk). Multiplexed
 * streams cost less CPU per request below it and more per byte above it
 * (docs/benchmarks.md, "Multiplexed http").
 */
export const BULK_FROM = 128 * 1024;
/**
 * A turn's borrowed body bytes are copied here and leave in one write
 * (flushDown). As large as HIGH_WATER: libuv reads a socket up to 32 times a
 * turn (64 KiB each, borrowed-read.ts), and a stage that fills up mid-turn
 * is written behind the write still in progress, which a TLS socket then
 * copies into one buffer with whatever else queued (TLSWrap::DoWrite). At
 * 128 KiB that copy was 5.8% of the inbound sidecar under bulk load; at
 * 1 MiB the pair took 3.9 instead of 4.1 ms of CPU per MiB
 * (docs/benchmarks.md, "Deeper write buffers"). Only the pages a turn
 * writes become resident.
 */
const STAGE_SIZE = HIGH_WATER;
/** Stages no write holds any more, for the next bulk body of any connection. */
const freeStages: Buffer[] = [];
const MAX_FREE_STAGES = 8;

let stagesAllocated = 0;

/** Stages allocated so far (by every connection of every engine): tests check they are reused. */
export function stageAllocations(): number {
  return stagesAllocated;
}

function newStage(): Buffer {
  stagesAllocated += 1;
  return Buffer.allocUnsafe(STAGE_SIZE);
}

/**
 * Does a write to `d` now go straight into TLS, which copies it into the
 * record before write() returns (TLSWrap::DoWrite)? Only for a TLS socket
 * with nothing queued or corked: otherwise the Writable keeps the buffer.
 */
function encryptsNow(d: Socket): boolean {
  return (d as { encrypted?: boolean }).encrypted === true && d.writableLength === 0 && !d.writableCorked;
}

function recycleStage(stage: Buffer): void {
  if (freeStages.length < MAX_FREE_STAGES) freeStages.push(stage);
}

export const enum Rq {
  Head,
  Length,
  Chunked,
  /** The request is complete; the response is not. */
  Sent,
  Tunnel,
  Closed,
}

export const enum Rs {
  Idle,
  Head,
  Length,
  Chunked,
  UntilClose,
}

export abstract class H1Flow implements BorrowedReader {
  protected up: Socket | undefined;
  /** The pool key `up` was taken under (the route's, or its bulk lane's). */
  protected upKey = '';
  /** Body bytes of the exchange in progress, both ways. */
  protected bodyBytes = 0;
  /** This connection moved a large body: its requests take the route's bulk lane from now on. */
  protected bulky = false;
  /** The upstream served an earlier request (a failure before any answer may be retried once). */
  protected upReused = false;
  /** Bytes of the current response arrived. */
  protected rsGot = false;
  protected inbuf: Buffer | undefined;
  protected searchFrom = 0;
  protected rq = Rq.Head;
  protected rqLeft = 0;
  protected rqChunks: ChunkedScanner | undefined;
  protected rs = Rs.Idle;
  protected rsLeft = 0;
  protected rsbuf: Buffer | undefined;
  protected rsSearchFrom = 0;
  protected rsChunks: ChunkedScanner | undefined;
  protected waitingUp = false;
  protected upFull = false;
  protected downFull = false;
  protected idleSince = performance.now();
  protected headSince = 0;

  // the exchange in progress
  protected req: RequestHead | undefined;
  protected sentHead: Buffer | undefined;
  protected started = 0;
  protected status = 0;
  protected answered = false;
  protected recorded = true;
  protected clientClose = false;
  protected closeAfter = false;
  protected upKeep = true;
  protected retried = false;

  protected readonly onDownData = (chunk: Buffer) => this.downData(chunk);
  protected readonly onDownDrain = () => {
    if (!this.downFull) return;
    this.downFull = false;
    this.flowUp();
  };
  protected readonly onDownClose = () => this.downClosed();
  /** Sockets without `onread` and streams of a multiplexed connection: chunks are theirs to keep. */
  protected readonly onUpData = (chunk: Buffer) => this.upData(chunk, chunk.length, true);
  protected readonly onUpDrain = () => {
    if (!this.upFull) return;
    this.upFull = false;
    this.flowDown();
  };
  protected readonly onUpGone = (err?: Error) => this.upGone(err instanceof Error ? err : undefined);

  constructor(
    protected readonly e: H1Engine,
    protected readonly down: Socket,
    protected readonly route: Route,
  ) {}

  protected abstract downData(chunk: Buffer): void;
  protected abstract downClosed(): void;
  /** `chunk[0, n)`: owned (the chunk may be kept), or borrowed (borrowed-read.ts: valid only during the call). */
  protected abstract upData(chunk: Buffer, n: number, owned: boolean): void;

  upRead(buf: Buffer, n: number): void {
    this.upData(buf, n, false);
  }
  protected abstract upGone(err?: Error): void;
  /** Periodic (the engine's timer): idle and slow-head timeouts. */
  abstract sweep(now: number): void;

  protected attachUp(s: Socket, reused: boolean): void {
    this.up = s;
    this.upReused = reused;
    this.upFull = false;
    // Sockets dialed with upstreamOnRead deliver to upRead; others through 'data'.
    setUpstreamOwner(s, this);
    s.on('data', this.onUpData);
    s.on('drain', this.onUpDrain);
    s.on('end', this.onUpGone);
    s.on('close', this.onUpGone);
    s.on('error', this.onUpGone);
    s.resume();
  }

  protected detachUp(): Socket | undefined {
    const s = this.up;
    if (!s) return undefined;
    this.up = undefined;
    setUpstreamOwner(s, undefined);
    s.removeListener('data', this.onUpData);
    s.removeListener('drain', this.onUpDrain);
    s.removeListener('end', this.onUpGone);
    s.removeListener('close', this.onUpGone);
    s.removeListener('error', this.onUpGone);
    return s;
  }

  protected dropUp(): void {
    this.detachUp()?.destroy();
    this.upFull = false;
  }

  protected toUp(b: Buffer): void {
    const up = this.up!;
    up.write(b);
    if (up.writableLength > HIGH_WATER) this.upFull = true;
  }

  /** Bytes we own (heads, answers) to the client, after what is staged. */
  protected toDown(b: Buffer): void {
    if (this.stageUsed > 0) this.flushDown();
    this.writeDown(b);
  }

  private writeDown(b: Buffer, written?: () => void): void {
    this.down.write(b, written);
    if (this.down.writableLength > HIGH_WATER) {
      this.downFull = true;
      this.up?.pause();
    }
  }

  /**
   * Body bytes `b[from, to)` to the client: borrowed ones through
   * toDownBorrowed; owned ones (a stream's chunks, our own copies) as they are,
   * the larger ones corked until the end of this turn of the event loop so
   * that a turn's chunks leave in one writev. Owned chunks never go through a
   * stage: when a multiplexed connection delivers pieces of many responses in
   * one turn, a stage per connection meant a new 1 MiB buffer for most of them
   * (5,800 in 5 s of 64 KiB answers, and V8 marking the heap 20 times a second).
   */
  protected toDownBody(b: Buffer, from: number, to: number, owned: boolean): void {
    if (!owned) return this.toDownBorrowed(b, from, to);
    if (to <= from) return;
    if (this.stageUsed > 0) this.flushDown();
    if (to - from >= COALESCE_FROM) this.corkDownForTurn();
    this.writeDown(from === 0 && to === b.length ? b : b.subarray(from, to));
  }

  /** What is written to the client until the end of this turn of the event loop leaves in one writev. */
  protected corkDownForTurn(): void {
    (this.downTurn ??= new TurnCork(this.down)).hold();
  }

  /** Made at the first turn that needs it: most connections never do. */
  private downTurn: TurnCork | undefined;

  /**
   * Borrowed body bytes (`b[from, to)`) to the client. They must not be
   * referenced once this returns: a plain socket's write keeps the buffer when
   * the kernel takes only part of it, and a queued write keeps it in any case.
   * Small pieces (an answer's body) are copied and written at once. Larger
   * ones (bulk bodies, 16 KiB per TLS record) are copied into a stage that
   * leaves in one write at the end of this turn of the event loop. A TLS
   * socket's write copies what it is given into the TLS record before it
   * returns, so into an idle TLS socket the bytes go without a copy.
   */
  protected toDownBorrowed(b: Buffer, from: number, to: number): void {
    const n = to - from;
    if (n <= 0) return;
    if (this.stageUsed === 0) {
      if (encryptsNow(this.down)) {
        this.writeDown(b.subarray(from, to));
        return;
      }
      if (n < COALESCE_FROM) {
        const copy = Buffer.allocUnsafe(n);
        b.copy(copy, 0, from, to);
        this.writeDown(copy);
        return;
      }
    }
    let stage = this.stage;
    if (stage !== undefined && this.stageUsed + n > stage.length) {
      this.flushDown();
      stage = this.stage;
    }
    if (stage === undefined) {
      stage = this.stage = freeStages.pop() ?? newStage();
    }
    b.copy(stage, this.stageUsed, from, to);
    if (this.stageUsed === 0 && !this.flushQueued) {
      this.flushQueued = true;
      setImmediate(this.onFlushDown);
    }
    this.stageUsed += n;
  }

  private stage: Buffer | undefined;
  private stageUsed = 0;
  private flushQueued = false;
  private readonly onFlushDown = () => {
    this.flushQueued = false;
    this.flushDown();
  };

  /**
   * Write what is staged. A write the socket does not finish at once (queued,
   * or partly taken by the kernel) keeps the stage until its callback, which
   * returns it for reuse: a new buffer per flush is external memory
   * that V8 collects only by marking the whole heap, and with a small heap it
   * marked every ~100 ms during bulk (44 mark-compacts in 5 s, the inbound
   * sidecar's CPU per MiB from 2.0 to 3.4 ms; docs/benchmarks.md).
   */
  protected flushDown(): void {
    const stage = this.stage;
    const n = this.stageUsed;
    if (stage === undefined || n === 0) return;
    this.stageUsed = 0;
    const d = this.down;
    if (d.destroyed) return;
    if (encryptsNow(d)) {
      // Encrypted (and so copied) before write() returns: the stage stays.
      this.writeDown(stage.subarray(0, n));
      return;
    }
    this.stage = undefined;
    this.writeDown(stage.subarray(0, n), () => recycleStage(stage));
  }

  /** Between responses: a stage no write holds goes back for others. */
  protected releaseStage(): void {
    if (this.stageUsed > 0) this.flushDown();
    const stage = this.stage;
    if (stage === undefined) return;
    this.stage = undefined;
    recycleStage(stage);
  }

  /**
   * Pause the client only when bytes wait that cannot be forwarded yet (no
   * upstream yet, upstream full, a pipelined request behind one in flight):
   * pausing and resuming cost a syscall each, so the common keep-alive turn
   * does neither.
   */
  protected flowDown(): void {
    const blocked = this.upFull || (this.inbuf !== undefined && (this.waitingUp || this.rq === Rq.Sent));
    if (blocked) {
      if (!this.down.isPaused()) this.down.pause();
    } else if (this.down.isPaused() && this.rq !== Rq.Closed && this.rq !== Rq.Tunnel) this.down.resume();
  }

  protected flowUp(): void {
    if (this.up && !this.downFull && this.up.isPaused()) this.up.resume();
  }

  protected record(code: number): void {
    if (this.recorded) return;
    this.recorded = true;
    const o = this.e.o;
    recordRequest(o, this.down, this.req?.method, this.req?.target, code, (performance.now() - this.started) / 1000);
  }
}

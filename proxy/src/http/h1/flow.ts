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

export const HEAD_END = Buffer.from('\r\n\r\n', 'latin1');
/** Our own high-water mark for buffered writes (Node's default is 16 KiB, one TLS record). */
const HIGH_WATER = 256 * 1024;
const COALESCE_FROM = 8 * 1024;

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

export abstract class H1Flow {
  protected up: Socket | undefined;
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
  protected readonly onUpData = (chunk: Buffer) => this.upData(chunk);
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
  protected abstract upData(chunk: Buffer): void;
  protected abstract upGone(err?: Error): void;
  /** Periodic (the engine's timer): idle and slow-head timeouts. */
  abstract sweep(now: number): void;

  protected attachUp(s: Socket, reused: boolean): void {
    this.up = s;
    this.upReused = reused;
    this.upFull = false;
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

  protected toDown(b: Buffer): void {
    // Large bodies arrive in 16 KiB pieces (one per TLS record): hold them
    // until this turn of the event loop is over and send them in one writev.
    if (b.length >= COALESCE_FROM && !this.downCorked) {
      this.downCorked = true;
      this.down.cork();
      setImmediate(this.onUncorkDown);
    }
    this.down.write(b);
    if (this.down.writableLength > HIGH_WATER) {
      this.downFull = true;
      this.up?.pause();
    }
  }

  protected downCorked = false;
  protected readonly onUncorkDown = () => {
    this.downCorked = false;
    this.down.uncork();
  };

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

// An accepted client connection of the h1 engine: the request side and the
// connection's lifecycle, on top of the response side (response.ts) and the
// shared state and byte flow (flow.ts). One request at a time; a pipelined
// request waits for the response before it.
import type { Socket } from 'node:net';
import { noop } from '../../net/noop.js';
import { reportUpstreamError } from '../upstream-errors.js';
import { ChunkedScanner } from './chunked.js';
import type { H1Engine, Route } from './engine.js';
import { BULK_FROM, HEAD_END, Rq, Rs } from './flow.js';
import { rejectAnswer, requestHeadOut, type ErrorStatus } from './heads.js';
import { H1Error, parseRequestHead, persistent, type RequestHead } from './parse.js';
import { H1Response } from './response.js';

const MAX_REQUEST_HEAD = 16 * 1024;

/** One accepted client connection and the upstream connection it holds. */
export class H1Conn extends H1Response {
  constructor(e: H1Engine, down: Socket, route: Route) {
    super(e, down, route);
    // A stream of a multiplexed connection has no socket options of its own.
    down.setNoDelay?.(true);
    down.on('data', this.onDownData);
    down.on('drain', this.onDownDrain);
    down.on('close', this.onDownClose);
    down.on('error', noop);
    down.resume();
  }

  // ---- requests: client -> upstream ----

  protected downData(chunk: Buffer): void {
    if (this.rq === Rq.Closed || this.rq === Rq.Tunnel) return;
    if (this.inbuf) {
      this.inbuf = Buffer.concat([this.inbuf, chunk]);
    } else {
      this.inbuf = chunk;
      if (this.rq === Rq.Head) this.headSince = performance.now();
    }
    this.pumpRequest();
  }

  protected pumpRequest(): void {
    // A head and the body bytes behind it leave in one write (uncorked below).
    const corked = this.up;
    corked?.cork();
    this.pumpRequestCorked();
    corked?.uncork();
  }

  private pumpRequestCorked(): void {
    while (this.inbuf && !this.waitingUp) {
      const buf = this.inbuf;
      switch (this.rq) {
        case Rq.Head: {
          const at = buf.indexOf(HEAD_END, this.searchFrom);
          if (at < 0) {
            if (buf.length > MAX_REQUEST_HEAD) return this.reject(431, 'request head too large');
            this.searchFrom = Math.max(0, buf.length - 3);
            return this.flowDown();
          }
          if (at + 4 > MAX_REQUEST_HEAD) return this.reject(431, 'request head too large');
          this.searchFrom = 0;
          let head: RequestHead;
          try {
            head = parseRequestHead(buf.toString('latin1', 0, at));
          } catch (err) {
            return this.reject(err instanceof H1Error ? err.status : 400, (err as Error).message);
          }
          this.inbuf = at + 4 < buf.length ? buf.subarray(at + 4) : undefined;
          this.beginRequest(head, buf, at + 4);
          continue;
        }
        case Rq.Length: {
          const n = Math.min(this.rqLeft, buf.length);
          this.bodyBytes += n;
          this.toUp(n === buf.length ? buf : buf.subarray(0, n));
          this.rqLeft -= n;
          this.inbuf = n < buf.length ? buf.subarray(n) : undefined;
          if (this.rqLeft === 0) this.requestSent();
          continue;
        }
        case Rq.Chunked: {
          let end: number;
          try {
            end = this.rqChunks!.scan(buf, 0);
          } catch (err) {
            return this.abort(`bad chunked request body: ${(err as Error).message}`);
          }
          if (end < 0) {
            this.bodyBytes += buf.length;
            this.toUp(buf);
            this.inbuf = undefined;
            continue;
          }
          this.bodyBytes += end;
          this.toUp(end === buf.length ? buf : buf.subarray(0, end));
          this.inbuf = end < buf.length ? buf.subarray(end) : undefined;
          this.requestSent();
          continue;
        }
        default:
          // Sent: a pipelined request waits for the response; Tunnel/Closed: nothing more.
          return this.flowDown();
      }
    }
    this.flowDown();
  }

  private beginRequest(head: RequestHead, buf: Buffer, headLength: number): void {
    this.req = head;
    this.started = performance.now();
    this.status = 0;
    this.answered = false;
    this.recorded = false;
    this.retried = false;
    this.rsGot = false;
    this.upKeep = true;
    this.clientClose = !persistent(head);
    this.closeAfter = this.e.o.tracker.requestStarted(this.down);
    this.sentHead = requestHeadOut(head, buf, headLength, this.e.o.rewrite, this.down);
    this.rs = Rs.Head;
    this.rsbuf = undefined;
    this.rsSearchFrom = 0;
    this.bodyBytes = 0;
    if (head.body === 'length') {
      this.rq = Rq.Length;
      this.rqLeft = head.length;
      if (head.length >= BULK_FROM) this.bulky = true;
    } else if (head.body === 'chunked') {
      this.rq = Rq.Chunked;
      (this.rqChunks ??= new ChunkedScanner(400)).reset();
    } else {
      this.rq = Rq.Sent;
    }
    if (this.up && this.route.pool.stale(this.up)) this.dropUp();
    if (this.up && this.bulky && this.route.bulk && this.upKey !== this.route.bulk.key) {
      // Between exchanges the upstream is clean: another client connection may use it.
      this.route.pool.release(this.upKey, this.detachUp()!);
    }
    if (this.up) {
      this.toUp(this.sentHead);
      return;
    }
    this.acquire();
  }

  private acquire(): void {
    this.waitingUp = true;
    this.flowDown();
    const lane = this.bulky && this.route.bulk ? this.route.bulk : this.route;
    this.route.pool.acquire(lane.key, lane.dial, (err, s, reused) => {
      this.waitingUp = false;
      if (this.rq === Rq.Closed) {
        if (s && !err) this.route.pool.release(lane.key, s);
        return;
      }
      if (err || !s) {
        this.upstreamFailed(err ?? new Error('no connection'));
        return;
      }
      this.attachUp(s, reused === true);
      this.upKey = lane.key;
      s.cork();
      this.toUp(this.sentHead!);
      this.pumpRequestCorked();
      s.uncork();
    });
  }

  private requestSent(): void {
    this.rq = Rq.Sent;
  }

  // ---- failures ----

  protected upGone(err?: Error): void {
    const s = this.up;
    if (!s) return;
    const reused = this.upReused;
    if (this.rs === Rs.UntilClose) {
      this.detachUp();
      s.destroy();
      this.upKeep = false;
      this.rs = Rs.Idle;
      this.closeAfter = true;
      if (this.rq !== Rq.Sent) this.rq = Rq.Sent;
      this.exchangeDone();
      return;
    }
    this.dropUp();
    if (this.rs === Rs.Idle) return; // an idle upstream went away: the next request gets another
    if (!this.rsGot) {
      // No answer at all. A reused connection the upstream closed just as we
      // sent (the keep-alive race) is retried once when the request had no body.
      if (reused && this.req?.body === 'none' && !this.retried) {
        this.retried = true;
        this.acquire();
        return;
      }
      this.upstreamFailed(err ?? new Error('upstream closed the connection'));
      return;
    }
    if (!this.answered) return this.badResponse('upstream closed the connection mid-head');
    // Cut mid-body: the client must see the cut too.
    this.abort('upstream closed mid-response');
  }

  private upstreamFailed(err: Error): void {
    // Counted and logged like the other engine's; the 502 says what happened.
    this.answerError(502, reportUpstreamError(err, this.route.url, this.e.o));
  }

  /** A request we cannot forward (the node:http front's clientError). */
  private reject(code: ErrorStatus, why: string): void {
    if (this.e.o.log.isLevelEnabled('debug')) this.e.o.log.debug({ event: 'bad_request', listener: this.e.o.listener, code, why }, 'bad request');
    this.rq = Rq.Closed;
    this.inbuf = undefined;
    if (this.down.writable) this.down.end(rejectAnswer(code, this.e.o.responseHeaders?.add ?? ''));
    this.dropUp();
  }

  // ---- lifecycle ----

  protected downClosed(): void {
    this.e.forget(this);
    if (!this.recorded) this.record(this.answered ? this.status : 0);
    const s = this.detachUp();
    // Between exchanges the upstream is clean: another client connection may use it.
    if (s) {
      if (this.rs === Rs.Idle && this.upKeep) this.route.pool.release(this.upKey, s);
      else s.destroy();
    }
    this.rq = Rq.Closed;
    this.inbuf = undefined;
  }

  /** Periodic: idle keep-alive and slow-head timeouts. */
  sweep(now: number): void {
    if (this.rq !== Rq.Head || this.waitingUp) return;
    if (this.inbuf) {
      if (now - this.headSince > this.e.headersTimeoutMs) this.reject(408, 'request head timeout');
      return;
    }
    if (this.up && now - this.idleSince > this.route.pool.idleMs) this.dropUp();
    if (now - this.idleSince > this.e.keepAliveTimeoutMs) this.down.destroy();
  }
}

// The http listeners' forwarding engine: HTTP/1.1 between an accepted
// (already authenticated) connection and a kept-alive upstream connection,
// forwarding bytes as they come and parsing only message heads and framing.
// One request at a time per connection (pipelined requests wait their turn);
// the upstream connection stays with the client connection while it lives and
// returns to the pool when it closes, so keep-alive costs no new connection and
// an app opening a connection per request still reuses pooled peer connections.
//
// Connection is hop-by-hop: the client's `Connection: close` ends the client
// connection after its response, not the upstream one; the upstream's own
// `Connection: close` ends only the upstream. Requests are counted and logged
// like the node:http front (http/front.ts) does, and the tracker's drain and
// recycling work the same way: `Connection: close` on the next response.
import type { Socket } from 'node:net';
import type { Logger } from '../../log.js';
import type { Direction, Metrics } from '../../metrics.js';
import type { ConnTracker } from '../../net/tracker.js';
import { splice } from '../../net/splice.js';
import { ChunkedScanner } from './chunked.js';
import { H1Error, parseRequestHead, parseResponseHead, persistent, type RequestHead, type ResponseHead } from './parse.js';
import type { Dial, SocketPool } from './pool.js';

export interface Route {
  /** Pool key: one destination. */
  key: string;
  /** For logs and errors. */
  url: string;
  dial: Dial;
  pool: SocketPool;
}

export interface EngineOptions {
  direction: Direction;
  listener: string;
  tracker: ConnTracker;
  metrics: Metrics;
  log: Logger;
  peerOf: (down: Socket) => string | undefined;
  /** Header names (lowercase) removed from requests, and lines added (each ending in CRLF). */
  rewrite?: {
    drop: ReadonlySet<string>;
    add: (down: Socket, head: RequestHead) => string;
  };
  /**
   * Header lines (each ending in CRLF) on every answer, the engine's own errors
   * included, replacing any the upstream sent under `drop` (offload HSTS).
   */
  responseHeaders?: { drop: ReadonlySet<string>; add: string };
  /** Count and log a failure to reach the upstream; the engine answers 502 with `message`. */
  onUpstreamError: (err: Error, url: string) => string;
  keepAliveTimeoutMs?: number;
  headersTimeoutMs?: number;
}

const MAX_REQUEST_HEAD = 16 * 1024;
const MAX_RESPONSE_HEAD = 64 * 1024;
const HEAD_END = Buffer.from('\r\n\r\n', 'latin1');
const SWEEP_MS = 1000;
/** Our own high-water mark for buffered writes (Node's default is 16 KiB, one TLS record). */
const HIGH_WATER = 256 * 1024;
const COALESCE_FROM = 8 * 1024;

const enum Rq {
  Head,
  Length,
  Chunked,
  /** The request is complete; the response is not. */
  Sent,
  Tunnel,
  Closed,
}

const enum Rs {
  Idle,
  Head,
  Length,
  Chunked,
  UntilClose,
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  408: 'Request Timeout',
  431: 'Request Header Fields Too Large',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  505: 'HTTP Version Not Supported',
};

export class H1Engine {
  readonly conns = new Set<H1Conn>();
  private readonly pools = new Set<SocketPool>();
  private timer: NodeJS.Timeout | undefined;
  readonly keepAliveTimeoutMs: number;
  readonly headersTimeoutMs: number;

  constructor(readonly o: EngineOptions) {
    this.keepAliveTimeoutMs = o.keepAliveTimeoutMs ?? 60_000;
    this.headersTimeoutMs = o.headersTimeoutMs ?? 30_000;
  }

  /** Serve HTTP on an accepted connection, forwarding to `route`. */
  serve(down: Socket, route: Route): void {
    this.pools.add(route.pool);
    const c = new H1Conn(this, down, route);
    this.conns.add(c);
    if (!this.timer) {
      this.timer = setInterval(() => this.sweep(), SWEEP_MS);
      this.timer.unref();
    }
  }

  /** @internal */
  forget(c: H1Conn): void {
    this.conns.delete(c);
    if (this.conns.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  private sweep(): void {
    const now = performance.now();
    for (const c of this.conns) c.sweep(now);
    for (const p of this.pools) p.sweep(now);
  }
}

/** One accepted client connection and the upstream connection it holds. */
class H1Conn {
  private up: Socket | undefined;
  /** The upstream served an earlier request (a failure before any answer may be retried once). */
  private upReused = false;
  /** Bytes of the current response arrived. */
  private rsGot = false;
  private inbuf: Buffer | undefined;
  private searchFrom = 0;
  private rq = Rq.Head;
  private rqLeft = 0;
  private rqChunks: ChunkedScanner | undefined;
  private rs = Rs.Idle;
  private rsLeft = 0;
  private rsbuf: Buffer | undefined;
  private rsSearchFrom = 0;
  private rsChunks: ChunkedScanner | undefined;
  private waitingUp = false;
  private upFull = false;
  private downFull = false;
  private idleSince = performance.now();
  private headSince = 0;

  // the exchange in progress
  private req: RequestHead | undefined;
  private sentHead: Buffer | undefined;
  private started = 0;
  private status = 0;
  private answered = false;
  private recorded = true;
  private clientClose = false;
  private closeAfter = false;
  private upKeep = true;
  private retried = false;

  private readonly onDownData = (chunk: Buffer) => this.downData(chunk);
  private readonly onDownDrain = () => {
    if (!this.downFull) return;
    this.downFull = false;
    this.flowUp();
  };
  private readonly onDownClose = () => this.downClosed();
  private readonly onUpData = (chunk: Buffer) => this.upData(chunk);
  private readonly onUpDrain = () => {
    if (!this.upFull) return;
    this.upFull = false;
    this.flowDown();
  };
  private readonly onUpGone = (err?: Error) => this.upGone(err instanceof Error ? err : undefined);

  constructor(
    private readonly e: H1Engine,
    private readonly down: Socket,
    private readonly route: Route,
  ) {
    down.setNoDelay(true);
    down.on('data', this.onDownData);
    down.on('drain', this.onDownDrain);
    down.on('close', this.onDownClose);
    down.on('error', noop);
    down.resume();
  }

  // ---- requests: client -> upstream ----

  private downData(chunk: Buffer): void {
    if (this.rq === Rq.Closed || this.rq === Rq.Tunnel) return;
    if (this.inbuf) {
      this.inbuf = Buffer.concat([this.inbuf, chunk]);
    } else {
      this.inbuf = chunk;
      if (this.rq === Rq.Head) this.headSince = performance.now();
    }
    this.pumpRequest();
  }

  private pumpRequest(): void {
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
            this.toUp(buf);
            this.inbuf = undefined;
            continue;
          }
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
    this.sentHead = this.requestHead(head, buf, headLength);
    this.rs = Rs.Head;
    this.rsbuf = undefined;
    this.rsSearchFrom = 0;
    if (head.body === 'length') {
      this.rq = Rq.Length;
      this.rqLeft = head.length;
    } else if (head.body === 'chunked') {
      this.rq = Rq.Chunked;
      (this.rqChunks ??= new ChunkedScanner(400)).reset();
    } else {
      this.rq = Rq.Sent;
    }
    if (this.up && this.route.pool.stale(this.up)) this.dropUp();
    if (this.up) {
      this.toUp(this.sentHead);
      return;
    }
    this.acquire();
  }

  /** The head as sent upstream: hop-by-hop Connection headers and `rewrite.drop` removed, `rewrite.add` added. */
  private requestHead(head: RequestHead, buf: Buffer, headLength: number): Buffer {
    const rw = this.e.o.rewrite;
    // Keep Connection on an upgrade (it names `upgrade`); drop it otherwise so
    // that the upstream connection outlives a client that asked to close.
    const dropHop = head.hopByHop && !head.upgrade;
    let dropping = dropHop;
    if (rw && !dropping) for (const n of head.names) if (rw.drop.has(n)) dropping = true;
    const added = rw ? rw.add(this.down, head) : '';
    if (!dropping && added === '') return buf.subarray(0, headLength);
    let s = `${head.line}\r\n`;
    for (let i = 0; i < head.names.length; i++) {
      const n = head.names[i]!;
      if (dropHop && (n === 'connection' || n === 'keep-alive' || n === 'proxy-connection')) continue;
      if (rw?.drop.has(n)) continue;
      s += `${head.lines[i]}\r\n`;
    }
    // An HTTP/1.0 client's request keeps the upstream connection alive too.
    if (dropHop && head.minor === 0) s += 'connection: keep-alive\r\n';
    s += `${added}\r\n`;
    return Buffer.from(s, 'latin1');
  }

  private acquire(): void {
    this.waitingUp = true;
    this.flowDown();
    this.route.pool.acquire(this.route.key, this.route.dial, (err, s, reused) => {
      this.waitingUp = false;
      if (this.rq === Rq.Closed) {
        if (s && !err) this.route.pool.release(this.route.key, s);
        return;
      }
      if (err || !s) {
        this.upstreamFailed(err ?? new Error('no connection'));
        return;
      }
      this.attachUp(s, reused === true);
      s.cork();
      this.toUp(this.sentHead!);
      this.pumpRequestCorked();
      s.uncork();
    });
  }

  private attachUp(s: Socket, reused: boolean): void {
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

  private detachUp(): Socket | undefined {
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

  private dropUp(): void {
    this.detachUp()?.destroy();
    this.upFull = false;
  }

  private toUp(b: Buffer): void {
    const up = this.up!;
    up.write(b);
    if (up.writableLength > HIGH_WATER) this.upFull = true;
  }

  private requestSent(): void {
    this.rq = Rq.Sent;
  }

  // ---- responses: upstream -> client ----

  private upData(chunk: Buffer): void {
    this.rsGot = true;
    if (this.rs === Rs.Idle) {
      // Bytes nobody asked for: this connection cannot be trusted with another request.
      this.upKeep = false;
      this.dropUp();
      return;
    }
    if (this.rs === Rs.Head) {
      this.rsbuf = this.rsbuf ? Buffer.concat([this.rsbuf, chunk]) : chunk;
      this.pumpResponse();
      return;
    }
    this.body(chunk);
  }

  private pumpResponse(): void {
    while (this.rsbuf && this.rs === Rs.Head) {
      const buf = this.rsbuf;
      const at = buf.indexOf(HEAD_END, this.rsSearchFrom);
      if (at < 0) {
        if (buf.length > MAX_RESPONSE_HEAD) return this.badResponse('response head too large');
        this.rsSearchFrom = Math.max(0, buf.length - 3);
        return;
      }
      this.rsSearchFrom = 0;
      let res: ResponseHead;
      try {
        res = parseResponseHead(buf.toString('latin1', 0, at), this.req!.method);
      } catch (err) {
        return this.badResponse((err as Error).message);
      }
      const rest = at + 4 < buf.length ? buf.subarray(at + 4) : undefined;
      this.rsbuf = undefined;
      if (res.status < 200 && res.status !== 101) {
        // 100 Continue and other interim answers pass through; the final one follows.
        this.toDown(buf.subarray(0, at + 4));
        this.rsbuf = rest;
        continue;
      }
      if (res.status === 101) {
        if (!this.req!.upgrade) return this.badResponse('101 without an upgrade request');
        return this.tunnel(buf);
      }
      if (rest) {
        // Head and the body bytes that came with it leave in one write (one TLS record, one syscall).
        this.down.cork();
        this.responseHead(res, buf, at + 4);
        this.body(rest);
        this.down.uncork();
      } else {
        this.responseHead(res, buf, at + 4);
        if (res.body === 'none') this.responseDone();
      }
      return;
    }
  }

  private responseHead(res: ResponseHead, buf: Buffer, headLength: number): void {
    this.status = res.status;
    this.answered = true;
    if (!persistent(res) || res.body === 'close') this.upKeep = false;
    // Decided now, told to the client in this response.
    if (this.clientClose || res.body === 'close' || this.e.o.tracker.closing(this.down)) this.closeAfter = true;
    let out: Buffer;
    const wantClose = this.closeAfter;
    // The client must read "close" exactly when we close after this response.
    const extra = this.e.o.responseHeaders;
    const rewrite = extra !== undefined || (wantClose ? !res.closeToken : res.closeToken || (this.req!.minor === 0 && !res.keepAliveToken));
    if (!rewrite) {
      out = buf.subarray(0, headLength);
    } else {
      let s = `${res.line}\r\n`;
      for (let i = 0; i < res.names.length; i++) {
        const n = res.names[i]!;
        if (n === 'connection' || n === 'keep-alive' || extra?.drop.has(n)) continue;
        s += `${res.lines[i]}\r\n`;
      }
      if (extra) s += extra.add;
      if (wantClose) s += 'connection: close\r\n';
      else if (this.req!.minor === 0) s += 'connection: keep-alive\r\n';
      s += '\r\n';
      out = Buffer.from(s, 'latin1');
    }
    this.toDown(out);
    switch (res.body) {
      case 'none':
        this.rs = Rs.Length;
        this.rsLeft = 0;
        break;
      case 'length':
        this.rs = Rs.Length;
        this.rsLeft = res.length;
        break;
      case 'chunked':
        this.rs = Rs.Chunked;
        (this.rsChunks ??= new ChunkedScanner(502)).reset();
        break;
      case 'close':
        this.rs = Rs.UntilClose;
        break;
    }
  }

  private body(chunk: Buffer): void {
    switch (this.rs) {
      case Rs.Length: {
        const n = Math.min(this.rsLeft, chunk.length);
        if (n > 0) this.toDown(n === chunk.length ? chunk : chunk.subarray(0, n));
        this.rsLeft -= n;
        if (n < chunk.length) this.upKeep = false; // more than the message: do not reuse
        if (this.rsLeft === 0) this.responseDone();
        return;
      }
      case Rs.Chunked: {
        let end: number;
        try {
          end = this.rsChunks!.scan(chunk, 0);
        } catch (err) {
          this.log('warn', 'bad chunked response body', (err as Error).message);
          return this.abort('bad chunked response body');
        }
        if (end < 0) {
          this.toDown(chunk);
          return;
        }
        this.toDown(end === chunk.length ? chunk : chunk.subarray(0, end));
        if (end < chunk.length) this.upKeep = false;
        this.responseDone();
        return;
      }
      case Rs.UntilClose:
        this.toDown(chunk);
        return;
      default:
        return;
    }
  }

  private toDown(b: Buffer): void {
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

  private downCorked = false;
  private readonly onUncorkDown = () => {
    this.downCorked = false;
    this.down.uncork();
  };

  private responseDone(): void {
    this.rs = Rs.Idle;
    if (this.rq === Rq.Sent) this.exchangeDone();
    else {
      // Answered before the request body was all sent: the upstream connection
      // is mid-message, and so is the client's.
      this.upKeep = false;
      this.closeAfter = true;
      this.exchangeDone();
    }
  }

  /** Request sent and response received: account, then next request or close. */
  private exchangeDone(): void {
    this.record(this.status);
    this.e.o.tracker.requestFinished(this.down);
    this.req = undefined;
    this.sentHead = undefined;
    if (!this.upKeep) this.dropUp();
    else this.upReused = true;
    if (this.closeAfter || !this.down.writable) {
      this.close();
      return;
    }
    this.rq = Rq.Head;
    this.idleSince = performance.now();
    this.flowUp();
    if (this.inbuf) {
      this.headSince = this.idleSince;
      this.pumpRequest();
    } else this.flowDown();
  }

  // ---- failures ----

  private upGone(err?: Error): void {
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
    const message = this.e.o.onUpstreamError(err, this.route.url);
    this.answerError(502, message);
  }

  private badResponse(why: string): void {
    this.dropUp();
    this.log('warn', 'bad response from upstream', why);
    if (this.answered) return this.abort(why);
    this.e.o.metrics.upstreamErrors.labels(this.e.o.direction, 'reset').inc();
    this.answerError(502, `upstream sent an invalid response: ${why}`);
  }

  /** A short plain-text answer, then close (the node:http front's sendError). */
  private answerError(code: number, body: string): void {
    if (this.answered) return this.abort(body);
    const text = `${body}\n`;
    this.status = code;
    this.answered = true;
    this.down.write(
      `HTTP/1.1 ${code} ${STATUS_TEXT[code] ?? 'Error'}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(text)}\r\n${this.e.o.responseHeaders?.add ?? ''}connection: close\r\n\r\n${text}`,
    );
    this.rs = Rs.Idle;
    this.rq = Rq.Sent;
    this.upKeep = false;
    this.closeAfter = true;
    this.exchangeDone();
  }

  /** A request we cannot forward (the node:http front's clientError). */
  private reject(code: 400 | 408 | 431 | 501 | 505 | 502, why: string): void {
    if (this.e.o.log.isLevelEnabled('debug')) this.e.o.log.debug({ event: 'bad_request', listener: this.e.o.listener, code, why }, 'bad request');
    const body = code === 400 ? 'bad request\n' : `${STATUS_TEXT[code]!.toLowerCase()}\n`;
    this.rq = Rq.Closed;
    this.inbuf = undefined;
    if (this.down.writable) this.down.end(`HTTP/1.1 ${code} ${STATUS_TEXT[code]}\r\n${this.e.o.responseHeaders?.add ?? ''}Connection: close\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    this.dropUp();
  }

  /** Nothing sensible can be sent any more: cut both connections. */
  private abort(why: string): void {
    if (this.e.o.log.isLevelEnabled('debug')) this.e.o.log.debug({ event: 'http_abort', listener: this.e.o.listener, why }, 'connection cut');
    this.rq = Rq.Closed;
    this.dropUp();
    this.down.destroy();
  }

  private close(): void {
    this.rq = Rq.Closed;
    this.inbuf = undefined;
    this.down.end();
  }

  // ---- lifecycle ----

  private downClosed(): void {
    this.e.forget(this);
    if (!this.recorded) this.record(this.answered ? this.status : 0);
    const s = this.detachUp();
    // Between exchanges the upstream is clean: another client connection may use it.
    if (s) {
      if (this.rs === Rs.Idle && this.upKeep) this.route.pool.release(this.route.key, s);
      else s.destroy();
    }
    this.rq = Rq.Closed;
    this.inbuf = undefined;
  }

  /** 101: from here on bytes flow both ways unparsed. `head` holds the 101 head and what followed it. */
  private tunnel(head: Buffer): void {
    this.status = 101;
    this.answered = true;
    this.record(101);
    this.e.o.tracker.requestFinished(this.down);
    this.e.forget(this);
    this.rq = Rq.Tunnel;
    this.rs = Rs.Idle;
    const up = this.detachUp()!;
    this.down.removeListener('data', this.onDownData);
    this.down.removeListener('drain', this.onDownDrain);
    this.down.removeListener('close', this.onDownClose);
    this.down.write(head);
    if (this.inbuf) up.write(this.inbuf);
    this.inbuf = undefined;
    splice(this.down, up, () => {});
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

  /**
   * Pause the client only when bytes wait that cannot be forwarded yet (no
   * upstream yet, upstream full, a pipelined request behind one in flight):
   * pausing and resuming cost a syscall each, so the common keep-alive turn
   * does neither.
   */
  private flowDown(): void {
    const blocked = this.upFull || (this.inbuf !== undefined && (this.waitingUp || this.rq === Rq.Sent));
    if (blocked) {
      if (!this.down.isPaused()) this.down.pause();
    } else if (this.down.isPaused() && this.rq !== Rq.Closed && this.rq !== Rq.Tunnel) this.down.resume();
  }

  private flowUp(): void {
    if (this.up && !this.downFull && this.up.isPaused()) this.up.resume();
  }

  private record(code: number): void {
    if (this.recorded) return;
    this.recorded = true;
    const o = this.e.o;
    const ms = performance.now() - this.started;
    o.metrics.request(o.direction, code, ms / 1000);
    if (o.log.isLevelEnabled('info')) {
      const target = this.req?.target;
      o.log.info({
        event: 'request',
        direction: o.direction,
        listener: o.listener,
        peer: o.peerOf(this.down),
        method: this.req?.method,
        path: target && target.length > 256 ? `${target.slice(0, 256)}...` : target,
        code,
        durationMs: Math.round(ms * 1e3) / 1e3,
      });
    }
  }

  private log(level: 'warn', msg: string, why: string): void {
    this.e.o.log[level]({ event: 'upstream_error', direction: this.e.o.direction, listener: this.e.o.listener, upstream: this.route.url, error: why }, msg);
  }
}

function noop(): void {}

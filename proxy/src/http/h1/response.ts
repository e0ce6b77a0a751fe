// The response side of an h1 connection (see flow.ts for the layers): parse
// the upstream's head, pass interim answers on, rewrite the head where the
// client must read a different Connection, forward the body by its framing,
// and end the exchange: next request, close, or an answer of our own.
import { noop } from '../../net/noop.js';
import { splice } from '../../net/splice.js';
import { ChunkedScanner } from './chunked.js';
import { BULK_FROM, HEAD_END, H1Flow, Rq, Rs } from './flow.js';
import { errorAnswer, responseHeadOut } from './heads.js';
import { parseResponseHead, persistent, type ResponseHead } from './parse.js';

const MAX_RESPONSE_HEAD = 64 * 1024;

export abstract class H1Response extends H1Flow {
  protected abstract pumpRequest(): void;

  protected upData(chunk: Buffer, n: number, owned: boolean): void {
    this.rsGot = true;
    if (this.rs === Rs.Idle) {
      // Bytes nobody asked for: this connection cannot be trusted with another request.
      this.upKeep = false;
      this.dropUp();
      return;
    }
    if (this.rs === Rs.Head) {
      // The head is parsed from, and may wait in, a buffer of our own.
      const held = this.rsbuf;
      const own = Buffer.allocUnsafe((held?.length ?? 0) + n);
      if (held) held.copy(own, 0);
      chunk.copy(own, held?.length ?? 0, 0, n);
      this.rsbuf = own;
      this.pumpResponse(owned);
      return;
    }
    this.body(chunk, 0, n, owned);
  }

  private pumpResponse(owned: boolean): void {
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
      const head = this.responseHead(res, buf, at + 4);
      // A stream of a multiplexed connection delivers a longer response in
      // pieces, several in one turn (its frames straddle TLS records): the
      // head and those pieces leave together, in one writev at the turn's end.
      const rs = this.rs as Rs; // set by responseHead
      if (owned && (rs === Rs.Chunked || (rs === Rs.Length && this.rsLeft > (rest?.length ?? 0)))) this.corkDownForTurn();
      if (!rest) {
        this.toDown(head);
        if (res.body === 'none') this.responseDone();
      } else if ((res.body === 'length' || res.body === 'none') && head.buffer === buf.buffer && head.byteOffset === buf.byteOffset) {
        // The head leaves as it came and the body (what came of it) follows
        // it in our own buffer: one buffer, one write (no writev, which a TLS
        // socket would first copy into one).
        const n = Math.min(this.rsLeft, rest.length);
        this.toDown(buf.subarray(0, at + 4 + n));
        this.lengthSent(n, rest.length);
      } else {
        // Head and the body bytes that came with it leave in one write (one TLS record, one syscall).
        this.down.cork();
        this.toDown(head);
        // `rest` is our own copy; it is written as the source's bytes are (a stream's without a stage).
        this.body(rest, 0, rest.length, owned);
        this.down.uncork();
      }
      return;
    }
  }

  /** Take the response's framing; the head for the client, to be written by the caller. */
  private responseHead(res: ResponseHead, buf: Buffer, headLength: number): Buffer {
    this.status = res.status;
    this.answered = true;
    if (!persistent(res) || res.body === 'close') this.upKeep = false;
    // Decided now, told to the client in this response.
    if (this.clientClose || res.body === 'close' || this.e.o.tracker.closing(this.down)) this.closeAfter = true;
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
    // The client must read "close" exactly when we close after this response.
    return responseHeadOut(res, buf, headLength, this.closeAfter, this.req!.minor, this.e.o.responseHeaders);
  }

  /** `n` of the `avail` body bytes at hand went to the client (a body with a length). */
  private lengthSent(n: number, avail: number): void {
    this.rsLeft -= n;
    if (n < avail) this.upKeep = false; // more than the message: do not reuse
    if (this.rsLeft === 0) this.responseDone();
  }

  /** `chunk[from, to)` of the body, owned or borrowed (see toDownBody). */
  private body(chunk: Buffer, from: number, to: number, owned: boolean): void {
    this.bodyBytes += to - from;
    switch (this.rs) {
      case Rs.Length: {
        const n = Math.min(this.rsLeft, to - from);
        this.toDownBody(chunk, from, from + n, owned);
        this.lengthSent(n, to - from);
        return;
      }
      case Rs.Chunked: {
        let end: number;
        try {
          end = this.rsChunks!.scan(chunk.subarray(from, to), 0);
        } catch (err) {
          this.log('warn', 'bad chunked response body', (err as Error).message);
          return this.abort('bad chunked response body');
        }
        if (end < 0) {
          this.toDownBody(chunk, from, to, owned);
          return;
        }
        this.toDownBody(chunk, from, from + end, owned);
        if (from + end < to) this.upKeep = false;
        this.responseDone();
        return;
      }
      case Rs.UntilClose:
        this.toDownBody(chunk, from, to, owned);
        return;
      default:
        return;
    }
  }

  private responseDone(): void {
    this.rs = Rs.Idle;
    this.releaseStage();
    if (this.rq === Rq.Sent) this.exchangeDone();
    else {
      // Answered before the request body was all sent: the upstream connection
      // is mid-message, and so is the client's.
      this.upKeep = false;
      this.closeAfter = true;
      this.exchangeDone();
    }
  }

  /** 101: from here on bytes flow both ways unparsed. `head` holds the 101 head and what followed it. */
  protected tunnel(head: Buffer): void {
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
    this.flushDown();
    this.down.write(head);
    if (this.inbuf) up.write(this.inbuf);
    this.inbuf = undefined;
    splice(this.down, up, noop);
  }

  /** Request sent and response received: account, then next request or close. */
  protected exchangeDone(): void {
    if (this.bodyBytes >= BULK_FROM) this.bulky = true;
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

  protected badResponse(why: string): void {
    this.dropUp();
    this.log('warn', 'bad response from upstream', why);
    if (this.answered) return this.abort(why);
    this.e.o.metrics.upstreamErrors.labels(this.e.o.direction, 'reset').inc();
    this.answerError(502, `upstream sent an invalid response: ${why}`);
  }

  /** A short plain-text answer, then close (the node:http front's sendError). */
  protected answerError(code: number, body: string): void {
    if (this.answered) return this.abort(body);
    this.status = code;
    this.answered = true;
    this.flushDown();
    this.down.write(errorAnswer(code, body, this.e.o.responseHeaders?.add ?? ''));
    this.rs = Rs.Idle;
    this.rq = Rq.Sent;
    this.upKeep = false;
    this.closeAfter = true;
    this.exchangeDone();
  }

  /** Nothing sensible can be sent any more: cut both connections. */
  protected abort(why: string): void {
    if (this.e.o.log.isLevelEnabled('debug')) this.e.o.log.debug({ event: 'http_abort', listener: this.e.o.listener, why }, 'connection cut');
    this.rq = Rq.Closed;
    this.dropUp();
    this.down.destroy();
  }

  private close(): void {
    this.rq = Rq.Closed;
    this.inbuf = undefined;
    this.flushDown();
    this.down.end();
  }

  private log(level: 'warn', msg: string, why: string): void {
    this.e.o.log[level]({ event: 'upstream_error', direction: this.e.o.direction, listener: this.e.o.listener, upstream: this.route.url, error: why }, msg);
  }
}

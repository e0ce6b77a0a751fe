// tlsmesh-mux/2: the multiplexing protocol between two tlsmesh proxies since
// the tenth session, in place of HTTP/2 CONNECT streams (tlsmesh-mux/1, still
// spoken with a peer that offers or takes only that). The same streams, with
// less per frame: each frame is a 9-byte header and its payload, written to
// the carrier (the mTLS connection) as it comes and sent once per turn of the
// event loop, so one TLS record and one system call carry all the streams'
// frames of that turn. On a relay of two bare Node processes (docs/benchmarks.md,
// "tlsmesh-mux/2"): 55 to 60 µs of CPU per keep-alive request for the pair,
// against 81 to 83 with the same streams over node:http2.
//
// A frame: length (u32, the payload's), type (u8), stream id (u32), payload.
// Only the outbound end opens streams (OPEN); the inbound end answers once
// it has reached its app (OPENED with a status, 200 when it did). Each
// direction of a stream may send STREAM_WINDOW bytes beyond what the other
// end has granted back (WINDOW), so a stream that is not read holds at most
// that much. END is a half-close, RESET an abort with a code, GOAWAY says no
// new streams (those open finish), PING asks for a PONG. A frame that breaks
// these rules is a protocol error: the carrier is closed and 'error' emitted.
//
// FrameSession offers the part of node:http2's sessions that the mux pool
// and the inbound listener use (request, 'stream', respond, 'response',
// rstCode, close, destroy, ping, setTimeout, 'goaway'), so that both
// protocols run through the same code there.
import { EventEmitter } from 'node:events';
import { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { TurnCork } from './turn-cork.js';

/** The ALPN protocol id. */
export const FRAMES_ALPN = 'tlsmesh-mux/2';

const HEADER = 9;
const DATA = 0;
const OPEN = 1;
const OPENED = 2;
const END = 3;
const RESET = 4;
const WINDOW = 5;
const GOAWAY = 6;
const PING = 7;
const PONG = 8;

/** Payload length of each control frame type (DATA's varies). */
const CONTROL_LENGTH = [-1, 0, 2, 0, 4, 4, 4, 8, 8];

/** What each direction of a stream may have in flight before the receiver grants more. */
export const STREAM_WINDOW = 1 << 20;
/** The receiver grants back what its reader consumed once that is this much: a WINDOW frame per 256 KiB. */
const GRANT_AT = STREAM_WINDOW / 4;
/** Streams' writes wait while the carrier holds this much unsent. */
const CARRIER_BUFFER_LIMIT = 1 << 20;
/** Payloads up to this size share one buffer with their header (a copy, cheaper than one more piece to write). */
const COPY_UP_TO = 1024;

/** RESET codes, as HTTP/2's: REFUSED_STREAM tells the opener that nothing was done and it may retry elsewhere. */
export const RESET_INTERNAL = 2;
export const RESET_REFUSED = 7;
export const RESET_CANCEL = 8;

const MAX_STREAM_ID = 0xffffffff;

export class FrameProtocolError extends Error {}

/** The headers a FrameSession's 'stream' event carries, as node:http2's server would for a CONNECT. */
const CONNECT_HEADERS = Object.freeze({ ':method': 'CONNECT' });

export class FrameSession extends EventEmitter {
  private readonly streams = new Map<number, FrameStream>();
  private nextId = 1;
  private lastPeerId = 0;
  private goawaySent = false;
  private closing = false;
  private gone = false;
  /** A turn's frames leave in one write. */
  private readonly turn: TurnCork;
  private drainWaiters: (() => void)[] = [];
  private pings: ((err: Error | null) => void)[] = [];
  private pingSeq = 0;
  // The frame being read: its header (and a control frame's payload) across reads.
  private readonly head = Buffer.alloc(HEADER + 8);
  private have = 0;
  private need = HEADER;
  private dataLeft = 0;
  private dataStream: FrameStream | undefined;

  constructor(
    readonly socket: TLSSocket,
    readonly role: 'client' | 'server',
  ) {
    super();
    this.turn = new TurnCork(socket);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => this.onDrain());
    socket.on('error', (err: Error) => this.emit('error', err));
    socket.on('close', () => this.onSocketClose());
    socket.resume();
  }

  /** No new streams from either end (GOAWAY sent or received, or closed). */
  get closed(): boolean {
    return this.closing || this.gone;
  }

  get destroyed(): boolean {
    return this.gone;
  }

  /** Open a stream (outbound end). Throws once the session is closed, as node:http2 does. */
  request(_headers?: unknown, _options?: unknown): FrameStream {
    if (this.role !== 'client') throw new Error('only the outbound end opens streams');
    if (this.closed) throw new Error('the multiplexed connection is closed');
    const id = this.nextId;
    this.nextId += 1;
    if (this.nextId > MAX_STREAM_ID) this.close();
    const stream = new FrameStream(this, id);
    this.streams.set(id, stream);
    this.send(OPEN, id);
    return stream;
  }

  /** No new streams; the carrier closes once the open ones are done. */
  close(): void {
    if (this.gone) return;
    if (!this.goawaySent) {
      this.goawaySent = true;
      this.control4(GOAWAY, 0, this.lastPeerId);
    }
    this.closing = true;
    if (this.streams.size === 0) this.socket.end();
  }

  /** Close the carrier now; every stream on it closes (without an error of its own). */
  destroy(err?: Error): void {
    if (this.gone) return;
    this.teardown(err);
    this.socket.destroy();
  }

  /** Gone: every stream closes, every PING fails. */
  private teardown(err?: Error): void {
    this.gone = true;
    this.closing = true;
    for (const s of [...this.streams.values()]) s.destroy();
    this.streams.clear();
    const pings = this.pings;
    this.pings = [];
    const why = err ?? new Error('the multiplexed connection closed');
    for (const cb of pings) cb(why);
  }

  /** Ask the peer for a PONG; `cb` gets null when it came, an error if the carrier closed first. */
  ping(cb: (err: Error | null) => void): boolean {
    if (this.gone) return false;
    const payload = Buffer.alloc(8);
    this.pingSeq += 1;
    payload.writeUInt32BE(this.pingSeq, 4);
    this.pings.push(cb);
    this.send(PING, 0, payload);
    return true;
  }

  /** `cb` after `ms` without a byte either way on the carrier. */
  setTimeout(ms: number, cb: () => void): void {
    this.socket.setTimeout(ms);
    this.socket.on('timeout', cb);
  }

  // ---- writing ----

  /**
   * Queue a frame; everything queued in one turn of the event loop leaves in
   * one write. `done`, for DATA: when the payload may be reused by its owner
   * (at once for a small one, which is copied; for a larger one, once the
   * carrier has taken it into a TLS record), and the carrier does not hold
   * CARRIER_BUFFER_LIMIT unsent. `afterWrite`: only once the carrier has
   * written this frame, and so every frame before it (a writev's last).
   */
  send(type: number, id: number, payload?: Buffer, done?: () => void, afterWrite = false): void {
    if (this.gone || this.socket.writableEnded) {
      done?.();
      return;
    }
    const len = payload ? payload.length : 0;
    this.turn.hold();
    if (len <= COPY_UP_TO) {
      const b = Buffer.allocUnsafe(HEADER + len);
      b.writeUInt32BE(len, 0);
      b[4] = type;
      b.writeUInt32BE(id, 5);
      if (len > 0) payload!.copy(b, HEADER);
      if (done && afterWrite) this.socket.write(b, () => done());
      else {
        this.socket.write(b);
        if (done) this.whenWritable(done);
      }
      return;
    }
    const h = Buffer.allocUnsafe(HEADER);
    h.writeUInt32BE(len, 0);
    h[4] = type;
    h.writeUInt32BE(id, 5);
    this.socket.write(h);
    // The payload is referenced, not copied, until the carrier's write of it completes.
    if (done) this.socket.write(payload!, () => done());
    else this.socket.write(payload!);
  }

  control4(type: number, id: number, value: number): void {
    const p = Buffer.allocUnsafe(4);
    p.writeUInt32BE(value, 0);
    this.send(type, id, p);
  }

  /** Call `cb` once the carrier can take more (at once unless it holds CARRIER_BUFFER_LIMIT unsent). */
  whenWritable(cb: () => void): void {
    if (this.gone || this.socket.writableLength < CARRIER_BUFFER_LIMIT) cb();
    else this.drainWaiters.push(cb);
  }

  private onDrain(): void {
    const waiters = this.drainWaiters;
    if (waiters.length === 0) return;
    this.drainWaiters = [];
    for (const cb of waiters) cb();
  }

  // ---- reading ----

  private onData(chunk: Buffer): void {
    const end = chunk.length;
    let off = 0;
    try {
      while (off < end && !this.gone) {
        if (this.dataLeft > 0) {
          const n = Math.min(this.dataLeft, end - off);
          this.dataLeft -= n;
          this.dataStream?.onPeerData(chunk.subarray(off, off + n));
          off += n;
          continue;
        }
        if (this.have === 0 && end - off >= HEADER) {
          // The usual case: the header (and a control frame's payload) are all in this read.
          const len = chunk.readUInt32BE(off);
          const type = chunk[off + 4]!;
          const id = chunk.readUInt32BE(off + 5);
          if (type === DATA) {
            off += HEADER;
            this.beginData(id, len);
            continue;
          }
          this.checkControl(type, len);
          if (end - off - HEADER >= len) {
            this.control(type, id, chunk, off + HEADER);
            off += HEADER + len;
            continue;
          }
        }
        // A header or control frame split across reads: gather it.
        const n = Math.min(this.need - this.have, end - off);
        chunk.copy(this.head, this.have, off, off + n);
        this.have += n;
        off += n;
        if (this.have < this.need) continue;
        const len = this.head.readUInt32BE(0);
        const type = this.head[4]!;
        const id = this.head.readUInt32BE(5);
        if (this.need === HEADER) {
          if (type === DATA) {
            this.have = 0;
            this.beginData(id, len);
            continue;
          }
          this.checkControl(type, len);
          if (len > 0) {
            this.need = HEADER + len;
            continue;
          }
        }
        this.have = 0;
        this.need = HEADER;
        this.control(type, id, this.head, HEADER);
      }
    } catch (err) {
      if (!(err instanceof FrameProtocolError)) throw err;
      this.emit('error', err);
      this.destroy(err);
    }
  }

  private checkControl(type: number, len: number): void {
    const want = CONTROL_LENGTH[type];
    if (want === undefined || want < 0) throw new FrameProtocolError(`unknown frame type ${type}`);
    if (len !== want) throw new FrameProtocolError(`frame type ${type} with a ${len}-byte payload (${want} expected)`);
  }

  private beginData(id: number, len: number): void {
    if (len > STREAM_WINDOW) throw new FrameProtocolError(`DATA frame of ${len} bytes`);
    const stream = this.streams.get(id);
    if (stream === undefined && id >= this.nextIdFloor()) throw new FrameProtocolError(`DATA on stream ${id}, which was never opened`);
    // A stream we closed may still get what the peer sent before it knew: dropped.
    stream?.expect(len);
    this.dataStream = stream;
    this.dataLeft = len;
  }

  /** The lowest stream id that has not been opened yet. */
  private nextIdFloor(): number {
    return this.role === 'client' ? this.nextId : this.lastPeerId + 1;
  }

  private control(type: number, id: number, b: Buffer, at: number): void {
    switch (type) {
      case OPEN:
        return this.onOpen(id);
      case OPENED: {
        if (this.role !== 'client') throw new FrameProtocolError('OPENED sent to the end that answers them');
        this.streams.get(id)?.onOpened(b.readUInt16BE(at));
        return;
      }
      case END:
        this.streams.get(id)?.onPeerEnd();
        return;
      case RESET:
        this.streams.get(id)?.onPeerReset(b.readUInt32BE(at));
        return;
      case WINDOW: {
        const n = b.readUInt32BE(at);
        if (n === 0 || n > STREAM_WINDOW) throw new FrameProtocolError(`WINDOW of ${n}`);
        this.streams.get(id)?.onWindow(n);
        return;
      }
      case GOAWAY:
        this.emit('goaway');
        this.close();
        return;
      case PING:
        this.send(PONG, 0, b.subarray(at, at + 8));
        return;
      case PONG:
        this.pings.shift()?.(null);
        return;
    }
  }

  private onOpen(id: number): void {
    if (this.role !== 'server') throw new FrameProtocolError('OPEN sent to the end that opens streams');
    if (id <= this.lastPeerId) throw new FrameProtocolError(`OPEN of stream ${id} after ${this.lastPeerId}`);
    this.lastPeerId = id;
    if (this.closed) {
      // After GOAWAY: nothing was done, so the peer may open it elsewhere.
      this.control4(RESET, id, RESET_REFUSED);
      return;
    }
    const stream = new FrameStream(this, id);
    this.streams.set(id, stream);
    this.emit('stream', stream, CONNECT_HEADERS);
  }

  // ---- streams ----

  forget(stream: FrameStream): void {
    if (this.streams.get(stream.id) !== stream) return;
    this.streams.delete(stream.id);
    if (this.dataStream === stream) this.dataStream = undefined;
    if (this.closing && this.streams.size === 0 && !this.gone) this.socket.end();
  }

  private onSocketClose(): void {
    if (!this.gone) this.teardown();
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const cb of waiters) cb();
    this.emit('close');
  }
}

/** One stream of a FrameSession: a Duplex, as a socket is, with half-close. */
export class FrameStream extends Duplex {
  /** The code of the RESET that closed it, from either end. */
  rstCode: number | undefined;
  private sendWindow = STREAM_WINDOW;
  /** Bytes the peer's DATA frames announced that have not been granted back (its window's use). */
  private announced = 0;
  /** Of those, the bytes that have arrived (pushed to the reader). */
  private delivered = 0;
  private blocked: { chunk: Buffer; cb: (err?: Error | null) => void } | undefined;
  private sentEnd = false;
  private gotEnd = false;
  /** The peer has forgotten this stream (it reset it, or answered its OPEN with a failure). */
  private peerGone = false;

  constructor(
    private readonly session: FrameSession,
    readonly id: number,
  ) {
    super({ allowHalfOpen: true });
  }

  /** Inbound end: answer the OPEN; anything but 200 ends the stream. */
  respond(headers: { ':status': number }, options?: { endStream?: boolean }): void {
    const status = headers[':status'];
    const p = Buffer.allocUnsafe(2);
    p.writeUInt16BE(status, 0);
    this.session.send(OPENED, this.id, p);
    if (status !== 200) {
      this.peerGone = true;
      this.destroy();
    } else if (options?.endStream) {
      this.end();
    }
  }

  // From the session:

  expect(len: number): void {
    this.announced += len;
    if (this.announced > STREAM_WINDOW) throw new FrameProtocolError(`stream ${this.id} sent beyond its window`);
  }

  onPeerData(piece: Buffer): void {
    if (this.destroyed || this.gotEnd) return;
    this.delivered += piece.length;
    this.push(piece);
    this.grant();
  }

  onOpened(status: number): void {
    if (status !== 200) this.peerGone = true;
    this.emit('response', { ':status': status });
  }

  onPeerEnd(): void {
    if (this.gotEnd) return;
    this.gotEnd = true;
    this.push(null);
  }

  onPeerReset(code: number): void {
    this.rstCode = code;
    this.peerGone = true;
    this.destroy(code === 0 ? undefined : new Error(`stream reset by the peer (code ${code})`));
  }

  onWindow(n: number): void {
    this.sendWindow += n;
    if (this.sendWindow > STREAM_WINDOW) throw new FrameProtocolError(`stream ${this.id} granted beyond its window`);
    const b = this.blocked;
    if (b === undefined) return;
    this.blocked = undefined;
    this._write(b.chunk, 'latin1', b.cb);
  }

  /** Grant back what the reader has taken, once that is GRANT_AT. */
  private grant(): void {
    const consumed = this.delivered - this.readableLength;
    if (consumed < GRANT_AT || this.peerGone) return;
    this.delivered -= consumed;
    this.announced -= consumed;
    this.session.control4(WINDOW, this.id, consumed);
  }

  override _read(): void {
    this.grant();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.peerGone) {
      cb(new Error('stream reset by the peer'));
      return;
    }
    let rest = chunk;
    if (rest.length > this.sendWindow) {
      if (this.sendWindow > 0) {
        // Held by the carrier until written; `rest`, which keeps the same buffer, is written later still.
        this.session.send(DATA, this.id, rest.subarray(0, this.sendWindow));
        rest = rest.subarray(this.sendWindow);
        this.sendWindow = 0;
      }
      this.blocked = { chunk: rest, cb };
      return;
    }
    this.sendWindow -= rest.length;
    this.session.send(DATA, this.id, rest, () => cb());
  }

  /** What piled up while the stream was corked or waiting: one DATA frame each, one callback for all (when the last is written). */
  override _writev(chunks: { chunk: Buffer }[], cb: (err?: Error | null) => void): void {
    let total = 0;
    for (const c of chunks) total += c.chunk.length;
    if (this.peerGone || total > this.sendWindow) {
      // Past the window: one at a time, as _write splits them.
      let i = 0;
      const next = (err?: Error | null) => (err || i === chunks.length ? cb(err) : this._write(chunks[i++]!.chunk, 'latin1', next));
      next();
      return;
    }
    this.sendWindow -= total;
    const last = chunks.length - 1;
    let referenced = false;
    for (let i = 0; i < last; i++) {
      const chunk = chunks[i]!.chunk;
      referenced ||= chunk.length > COPY_UP_TO;
      this.session.send(DATA, this.id, chunk);
    }
    this.session.send(DATA, this.id, chunks[last]!.chunk, () => cb(), referenced);
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.sentEnd = true;
    if (!this.peerGone) this.session.send(END, this.id);
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.session.forget(this);
    if (!this.peerGone && !(this.sentEnd && this.gotEnd)) {
      const code = err ? RESET_INTERNAL : RESET_CANCEL;
      this.rstCode ??= code;
      this.session.control4(RESET, this.id, code);
    }
    const b = this.blocked;
    this.blocked = undefined;
    b?.cb();
    cb(err);
  }
}

// The outbound end of multiplexed tcp (net/mux.ts): one carrier (an mTLS
// connection speaking tlsmesh-mux/2, or HTTP/2 with a peer that takes only
// tlsmesh-mux/1) per peer address, a stream on it per app connection. The
// carrier's peer passed every check when it was dialed; it is
// retired, so that new streams go to a fresh carrier, when our identity
// rotates, when the peer's certificate expires, when the peer sends GOAWAY, or
// after idleMs without streams. A peer that does not take the ALPN offer
// gets raw mTLS connections, as before multiplexing.
import type { TLSSocket } from 'node:tls';
import { formatHostPort } from '../config/index.js';
import type { PeerDecision } from '../identity/peer-check.js';
import { http2 } from '../lazy-builtins.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { FRAMES_ALPN, FrameSession, RESET_REFUSED } from '../net/frames.js';
import { isMuxAlpn, MUX_PROTOCOLS, MUX_SESSION_MEMORY_MB, MUX_SETTINGS, tuneCarrier, type MuxClientSession, type MuxClientStream } from '../net/mux.js';
import { noop } from '../net/noop.js';
import { UpstreamError } from '../tls/peer-refused.js';
import type { DialTarget, MtlsDialer } from './dialer.js';

/** A logical connection to the peer: a stream on a carrier, or a raw mTLS socket. */
export type MuxConn =
  | { stream: MuxClientStream; socket?: undefined; carrier: TLSSocket; decision: PeerDecision & { ok: true } }
  | { stream?: undefined; socket: TLSSocket; carrier?: undefined; decision: PeerDecision & { ok: true } };

export type MuxCallback = (err: Error | null, conn?: MuxConn) => void;

interface Carrier {
  key: string;
  /** host:port of the peer, each stream's :authority. */
  authority: string;
  session: MuxClientSession;
  socket: TLSSocket;
  decision: PeerDecision & { ok: true };
  streams: number;
  retired: boolean;
  /** A PING is out to find out whether the peer is still there. */
  probing: boolean;
}

export interface MuxPoolOptions {
  dialer: MtlsDialer;
  /** How long a stream may wait for the peer's answer (the peer connecting to its app). */
  openTimeoutMs: number;
  /** A carrier without streams for this long is closed. */
  idleMs: number;
  clock: () => number;
  metrics: Metrics;
  log: Logger;
  listener: string;
}

/** REFUSED_STREAM, in both protocols: the peer did nothing with the stream. */
const REFUSED_STREAM = RESET_REFUSED;
const MUX_OFFER = [...MUX_PROTOCOLS, 'http/1.1'];
const PING_TIMEOUT_MS = 5_000;

export class MuxPool {
  private readonly carriers = new Map<string, Carrier>();
  private readonly dialing = new Map<string, MuxCallback[]>();
  /** Peers that did not take the ALPN offer, by the credentials generation that found out. */
  private readonly rawPeers = new Map<string, number>();
  private generation = -1;
  /** Carriers retired because they were stale (our identity rotated, the peer's certificate expired). */
  recycled = 0;

  constructor(private readonly o: MuxPoolOptions) {}

  open(t: DialTarget, cb: MuxCallback, retried = false): void {
    const key = `${t.host}:${t.port}/${t.servername ?? ''}`;
    const generation = this.o.dialer.generationNow();
    if (generation !== this.generation) {
      this.generation = generation;
      this.rawPeers.clear();
    }
    if (this.rawPeers.has(key)) {
      this.o.dialer.dial(t, (err, socket, decision) => (err || !socket ? cb(err) : cb(null, { socket, decision: decision! })));
      return;
    }
    const carrier = this.carriers.get(key);
    if (carrier && this.usable(carrier)) {
      this.stream(carrier, t, cb, retried);
      return;
    }
    const waiting = this.dialing.get(key);
    if (waiting) {
      waiting.push(cb);
      return;
    }
    const waiters: MuxCallback[] = [cb];
    this.dialing.set(key, waiters);
    // http/1.1 as well, because a Node TLS server with an ALPN list of its
    // own (a tlsmesh http listener) answers an offer it has nothing of with a
    // fatal alert; a server without a list ignores the offer.
    this.o.dialer.dial({ ...t, alpn: MUX_OFFER, onread: undefined }, (err, socket, decision) => {
      this.dialing.delete(key);
      if (err && /no application protocol/i.test(err.message)) {
        // A TLS server with an ALPN list of its own that does not have ours: no multiplexing there.
        this.rawPeers.set(key, generation);
        for (const w of waiters) this.open(t, w, retried);
        return;
      }
      if (err || !socket) {
        for (const w of waiters) w(err);
        return;
      }
      if (!isMuxAlpn(socket.alpnProtocol)) {
        this.rawPeers.set(key, generation);
        waiters[0]!(null, { socket, decision: decision! });
        for (const w of waiters.slice(1)) this.open(t, w, retried);
        return;
      }
      const c = this.carrier(key, formatHostPort(t), socket, decision!);
      for (const w of waiters) this.stream(c, t, w, retried);
    });
  }

  /** Retire carriers a rotated identity or an expired peer certificate no longer covers (counted in `recycled`); their streams finish first. */
  retireStale(now: number): void {
    for (const c of this.carriers.values()) this.retireIfStale(c, now);
  }

  /** Drain: no new streams on any carrier; each closes once its streams are done. */
  closeAll(): void {
    for (const c of this.carriers.values()) this.retire(c);
  }

  destroy(): void {
    for (const c of this.carriers.values()) c.session.destroy();
    this.carriers.clear();
  }

  private usable(c: Carrier): boolean {
    if (c.retired || c.session.closed || c.session.destroyed) return false;
    return !this.retireIfStale(c, this.o.clock());
  }

  private retireIfStale(c: Carrier, now: number): boolean {
    if (!this.o.dialer.isStale(c.socket, now)) return false;
    this.recycled += 1;
    this.retire(c);
    return true;
  }

  private carrier(key: string, authority: string, socket: TLSSocket, decision: PeerDecision & { ok: true }): Carrier {
    // The carrier lives as long as it has streams; half-open would only keep a dead one around.
    socket.allowHalfOpen = false;
    let session: MuxClientSession;
    if (socket.alpnProtocol === FRAMES_ALPN) {
      session = new FrameSession(socket, 'client');
      tuneCarrier(socket);
    } else {
      const h2 = http2().connect(`http://${authority}`, {
        createConnection: () => socket,
        settings: MUX_SETTINGS,
        maxSessionMemory: MUX_SESSION_MEMORY_MB,
        peerMaxConcurrentStreams: MUX_SETTINGS.maxConcurrentStreams,
      });
      tuneCarrier(socket, h2);
      session = h2;
    }
    const c: Carrier = { key, authority, session, socket, decision, streams: 0, retired: false, probing: false };
    this.carriers.set(key, c);
    session.on('error', (err: Error) => this.o.log.warn({ event: 'mux_error', direction: 'outbound', listener: this.o.listener, upstream: key, error: err.message }, 'multiplexed connection to the peer failed'));
    session.on('goaway', () => this.retire(c));
    session.on('close', () => {
      if (this.carriers.get(key) === c) this.carriers.delete(key);
    });
    session.setTimeout(this.o.idleMs, () => {
      if (c.streams === 0) this.retire(c);
    });
    return c;
  }

  /**
   * A stream got no answer in time: its app may just be slow to accept, or
   * the peer may be gone without a FIN (its node died). A PING tells them
   * apart; a carrier that does not answer it is destroyed, so that the next
   * connection dials afresh instead of waiting on it too.
   */
  private probe(c: Carrier): void {
    if (c.probing || c.session.closed || c.session.destroyed) return;
    c.probing = true;
    const dead = () => {
      this.o.log.warn({ event: 'mux_error', direction: 'outbound', listener: this.o.listener, upstream: c.key, error: 'no answer to PING' }, 'multiplexed connection to the peer is dead: closing it');
      this.retire(c);
      c.session.destroy();
    };
    const timer = setTimeout(dead, Math.min(PING_TIMEOUT_MS, this.o.openTimeoutMs));
    const sent = c.session.ping((err) => {
      clearTimeout(timer);
      c.probing = false;
      if (err && !c.session.destroyed) dead();
    });
    if (!sent) {
      clearTimeout(timer);
      dead();
    }
  }

  private retire(c: Carrier): void {
    if (this.carriers.get(c.key) === c) this.carriers.delete(c.key);
    if (c.retired) return;
    c.retired = true;
    if (!c.session.closed && !c.session.destroyed) c.session.close();
  }

  /** A stream (OPEN, or an HTTP/2 CONNECT); the app's bytes flow only after the peer answered 200 (it reached its app). */
  private stream(c: Carrier, t: DialTarget, cb: MuxCallback, retried: boolean): void {
    let stream: MuxClientStream;
    try {
      stream = c.session.request({ ':method': 'CONNECT', ':authority': c.authority }, { endStream: false });
    } catch (err) {
      // The session closed between the check and the request (e.g. a GOAWAY just arrived).
      this.retire(c);
      if (retried) cb(new UpstreamError('reset', `multiplexed connection to ${c.key} closed`, { cause: err }));
      else this.open(t, cb, true);
      return;
    }
    c.streams += 1;
    let answered = false;
    const timer = setTimeout(() => {
      fail(new UpstreamError('timeout', `the peer at ${c.key} did not answer within ${this.o.openTimeoutMs} ms`));
      this.probe(c);
    }, this.o.openTimeoutMs);
    const fail = (err: UpstreamError) => {
      if (answered) return;
      answered = true;
      clearTimeout(timer);
      this.o.metrics.upstreamErrors.labels('outbound', err.kind).inc();
      stream.removeListener('error', onError);
      stream.on('error', noop);
      stream.destroy();
      cb(err);
    };
    const onError = (err: Error) => {
      // Refused before the peer saw it (GOAWAY, REFUSED_STREAM): nothing was sent, so one retry on a fresh carrier is safe.
      if (!answered && !retried && (stream.rstCode === REFUSED_STREAM || c.retired || c.session.closed)) {
        answered = true;
        clearTimeout(timer);
        this.retire(c);
        this.open(t, cb, true);
        return;
      }
      fail(new UpstreamError('reset', `stream to ${c.key}: ${err.message}`, { cause: err }));
    };
    stream.on('error', onError);
    // 'close' comes once: one listener for the count and for a stream closed unanswered.
    stream.on('close', () => {
      c.streams -= 1;
      if (!answered) onError(new Error(`closed before an answer (code ${stream.rstCode ?? 0})`));
    });
    stream.once('response', (headers) => {
      if (answered) return;
      const status = Number(headers[':status']);
      if (status !== 200) {
        fail(new UpstreamError('connect', `the peer at ${c.key} could not reach its app (${status})`));
        return;
      }
      answered = true;
      clearTimeout(timer);
      stream.removeListener('error', onError);
      cb(null, { stream, carrier: c.socket, decision: c.decision });
    });
  }
}

// Outbound http: requests of the app's connections go to peers over mTLS (or,
// outside meshNetworks, in plaintext), through the h1 engine (kept-alive
// connections to peers pooled per destination and identity generation) or
// through the node:http front and http-proxy (DialingAgent). The listener
// accepts; this serves, and owns the pooled peer connections that rotation
// recycles and drain closes.
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Duplex } from 'node:stream';
import type { AccessLogMode } from '../access-log.js';
import { formatHostPort, type HostPort, type OutboundConfig } from '../config/index.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { ConnTracker } from '../net/tracker.js';
import { DialingAgent } from '../http/dialing-agent.js';
import { httpEngineKind } from '../http/engine-choice.js';
import { createForwarder, type Forwarder } from '../http/forwarder.js';
import { createHttpFront, sendError } from '../http/front.js';
import { upstreamOnRead } from '../http/h1/borrowed-read.js';
import { H1Engine, type Route } from '../http/h1/engine.js';
import type { RequestRecorder } from '../http/request-record.js';
import { SocketPool, type Dial } from '../http/h1/pool.js';
import { reportUpstreamError } from '../http/upstream-errors.js';
import { connectPlain } from '../net/connect-plain.js';
import type { MtlsDialer } from './dialer.js';
import type { MuxPool } from './mux-pool.js';

/** What serving needs to know of an accepted connection. */
export interface OutboundConnView {
  peer?: string;
  target?: HostPort;
  mesh: boolean;
}

export interface OutboundHttpOptions {
  cfg: OutboundConfig;
  listener: string;
  dialer: MtlsDialer;
  tracker: ConnTracker;
  metrics: Metrics;
  log: Logger;
  accessLog: AccessLogMode;
  clock: () => number;
  connOf: (s: Socket) => OutboundConnView | undefined;
  /** Requests to peers ride streams of one multiplexed connection per peer when the peer takes it (h1 engine); the listener owns it (retirement, drain). */
  mux?: MuxPool;
}

export class OutboundHttp {
  private readonly forwarder?: Forwarder;
  private readonly plainForwarder?: Forwarder;
  private readonly agent?: DialingAgent;
  private readonly front?: ReturnType<typeof createHttpFront>;
  private readonly engine?: H1Engine;
  /** h1 engine: kept-alive mTLS connections to peers (and plain ones outside meshNetworks). */
  private readonly peerPool?: SocketPool;
  private readonly plainPool?: SocketPool;
  private readonly routes = new Map<string, Route>();
  /** The multiplexed connection each pooled stream rides. */
  private readonly carriers = new WeakMap<Socket, TLSSocket>();
  /** Who this listener is, for request records and upstream errors. */
  private readonly recorder: RequestRecorder;

  constructor(private readonly o: OutboundHttpOptions) {
    const { cfg, listener, dialer, tracker, metrics, log, connOf } = o;
    const recorder: RequestRecorder = (this.recorder = { direction: 'outbound', listener, metrics, log, accessLog: o.accessLog, peerOf: (s) => connOf(s)?.peer });
    if (httpEngineKind() === 'h1') {
      // A pooled stream is as fresh as the multiplexed connection it rides.
      this.peerPool = new SocketPool({ isStale: (s, now) => dialer.isStale(this.carriers.get(s) ?? (s as TLSSocket), now) });
      if (cfg.meshNetworks) this.plainPool = new SocketPool();
      this.engine = new H1Engine({
        ...recorder,
        tracker,
      });
    } else {
      this.agent = new DialingAgent(dialer, { servername: cfg.serverName, alpn: ['http/1.1'] });
      const closing = (req: IncomingMessage) => tracker.closing(req.socket);
      this.forwarder = createForwarder({ agent: this.agent, xfwd: false, closing });
      if (cfg.meshNetworks) this.plainForwarder = createForwarder({ agent: new http.Agent({ keepAlive: true }), xfwd: false, closing });
      this.front = createHttpFront({
        ...recorder,
        tracker,
        clock: o.clock,
        handle: (req, res) => this.forwardRequest(req, res),
        upgrade: (req, socket, head) => this.forwardUpgrade(req, socket, head),
      });
    }
  }

  /** Serve an accepted connection (tracked and marked http by the listener) whose requests go to `target`. */
  serve(app: Socket, target: HostPort, mesh: boolean): void {
    if (this.engine) {
      this.engine.serve(app, this.routeTo(target, mesh));
      return;
    }
    this.front!.emit('connection', app);
    app.resume();
  }

  /** Close pooled peer connections a rotated or expired certificate no longer covers (busy ones after their response). */
  dropStale(now: number): number {
    return this.agent ? this.agent.dropStale(now) : this.peerPool!.dropStale(now);
  }

  /** Pooled peer connections closed instead of reused because they were stale. */
  get recycled(): number {
    return this.agent?.recycled ?? this.peerPool?.recycled ?? 0;
  }

  /** Drop idle pooled keep-alive connections (drain, identity rotation); busy ones finish first. */
  closeIdle(): void {
    this.peerPool?.closeIdle();
    this.plainPool?.closeIdle();
    if (!this.agent) return;
    for (const sockets of Object.values(this.agent.freeSockets)) for (const s of sockets ?? []) s.destroy();
  }

  /** After the drain deadline: everything goes. */
  destroy(): void {
    this.agent?.destroy();
    this.peerPool?.destroy();
    this.plainPool?.destroy();
  }

  /** The peer (mTLS, pooled) or, outside meshNetworks, the plain destination (h1 engine). */
  private routeTo(t: HostPort, mesh: boolean): Route {
    const key = `${mesh ? 'https' : 'http'}://${formatHostPort(t)}`;
    let r = this.routes.get(key);
    if (!r) {
      const peer = { host: t.host, port: t.port, servername: this.o.cfg.serverName, alpn: ['http/1.1'], onread: upstreamOnRead };
      const own: Dial = (cb) => this.o.dialer.dial(peer, (err, s) => cb(err, s));
      const mux = this.o.mux;
      const dial: Dial = !mesh
        ? (cb) => connectPlain({ host: t.host, port: t.port, name: formatHostPort(t), onread: upstreamOnRead }, { direction: 'outbound', metrics: this.o.metrics }, cb)
        : mux
          ? (cb) =>
              mux.open(peer, (err, c) => {
                if (err || !c) return cb(err);
                if (!c.stream) return cb(null, c.socket);
                const s = c.stream as unknown as Socket;
                this.carriers.set(s, c.carrier);
                cb(null, s);
              })
          : own;
      // Large bodies on a connection of their own (Route.bulk).
      const bulk = mesh && mux ? { key: `${key} bulk`, dial: own } : undefined;
      r = { key, url: key, pool: mesh ? this.peerPool! : this.plainPool!, dial, bulk };
      if (this.routes.size < 1024) this.routes.set(key, r);
    }
    return r;
  }

  private targetOf(req: IncomingMessage): { url: string; mesh: boolean } | undefined {
    const conn = this.o.connOf(req.socket);
    if (!conn?.target) return undefined;
    return { url: `${conn.mesh ? 'https' : 'http'}://${formatHostPort(conn.target)}`, mesh: conn.mesh };
  }

  private forwardRequest(req: IncomingMessage, res: ServerResponse): void {
    const t = this.targetOf(req);
    if (!t) return sendError(res, 502, 'no upstream');
    const fwd = t.mesh ? this.forwarder! : this.plainForwarder!;
    fwd.web(req, res, t.url, (err) => sendError(res, 502, reportUpstreamError(err, t.url, this.recorder)));
  }

  private forwardUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const t = this.targetOf(req);
    if (!t) {
      socket.destroy();
      return;
    }
    const fwd = t.mesh ? this.forwarder! : this.plainForwarder!;
    fwd.ws(req, socket, head, t.url, () => socket.destroy());
  }
}

// Outbound: this pod's app -> a peer. Accept plaintext from the app, originate
// mTLS to the peer, and carry the app's bytes only once the peer passed.
import net, { type Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { OutboundConfig } from '../config/index.js';
import { TlsmeshError } from '../errors.js';
import { formatHostPort, parseCidr, type HostPort } from '../config/index.js';
import { originalDst } from '../capture/original-dst.js';
import type { CredentialStore } from '../identity/credential-store.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { splice } from '../net/splice.js';
import { ConnTracker } from '../net/tracker.js';
import { listenOn } from '../net/listen.js';
import { createForwarder, type Forwarder } from '../http/forwarder.js';
import { createHttpFront, sendError } from '../http/front.js';
import { DialingAgent } from '../http/dialing-agent.js';
import { httpEngineKind } from '../http/engine-choice.js';
import { H1Engine, type Route } from '../http/h1/engine.js';
import { SocketPool } from '../http/h1/pool.js';
import { clientContext } from '../tls/contexts.js';
import { compilePolicy } from '../tls/policy.js';
import type { ListenerGlobals } from '../inbound/listener.js';
import { kindOf, upstreamMessage } from '../inbound/listener.js';
import { MtlsDialer } from './dialer.js';
import { UpstreamError } from '../tls/peer-refused.js';
import { cidrMatcher } from './mesh-networks.js';

interface Conn {
  started: number;
  target?: HostPort;
  mesh: boolean;
  peer?: string;
  result: 'ok' | 'refused' | 'error' | 'passthrough';
  reason?: string;
}

export class OutboundListener {
  readonly name: string;
  readonly tracker = new ConnTracker();
  readonly dialer: MtlsDialer;
  private readonly server: net.Server;
  private readonly conns = new WeakMap<Socket, Conn>();
  private readonly inMesh: (address: string) => boolean;
  private readonly forwarder?: Forwarder;
  private readonly plainForwarder?: Forwarder;
  private readonly agent?: DialingAgent;
  private readonly http?: ReturnType<typeof createHttpFront>;
  private readonly engine?: H1Engine;
  /** h1 engine: kept-alive mTLS connections to peers (and plain ones outside meshNetworks). */
  private readonly peerPool?: SocketPool;
  private readonly plainPool?: SocketPool;
  private readonly routes = new Map<string, Route>();
  listening = false;

  constructor(
    private readonly cfg: OutboundConfig,
    index: number,
    private readonly g: ListenerGlobals,
    private readonly store: CredentialStore,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {
    this.name = cfg.name ?? `outbound[${index}]`;
    const policy = compilePolicy({ trustDomain: g.trustDomain, ids: cfg.expect, pins: cfg.pins, role: 'server', skewMs: g.skewMs }, log, this.name);
    this.dialer = new MtlsDialer({
      context: () => {
        const creds = store.current;
        return creds && { secureContext: clientContext(creds, g.minVersion), anchors: creds.anchors, generation: creds.generation };
      },
      direction: 'outbound',
      countHandshakes: true,
      policy,
      minVersion: g.minVersion,
      handshakeTimeoutMs: g.handshakeTimeoutMs,
      clock: g.clock,
      metrics,
      log,
      listener: this.name,
    });
    this.inMesh = cfg.meshNetworks ? cidrMatcher(cfg.meshNetworks.map((c) => parseCidr(c)!)) : () => true;
    this.server = net.createServer({ pauseOnConnect: true, allowHalfOpen: cfg.protocol === 'tcp' }, (s) => this.onConnection(s));
    this.server.on('error', (err) => log.error({ event: 'listener_error', listener: this.name, error: err.message }, 'listener error'));
    if (cfg.protocol === 'http' && httpEngineKind() === 'h1') {
      this.peerPool = new SocketPool({ isStale: (s, now) => this.dialer.isStale(s as TLSSocket, now) });
      if (cfg.meshNetworks) this.plainPool = new SocketPool();
      this.engine = new H1Engine({
        direction: 'outbound',
        listener: this.name,
        tracker: this.tracker,
        metrics,
        log,
        peerOf: (s) => this.conns.get(s)?.peer,
        onUpstreamError: (err, url) => {
          // The dialer counted its own failures (handshakes, connects); count the rest here.
          if (!(err instanceof TlsmeshError)) this.metrics.upstreamErrors.labels('outbound', kindOf(err)).inc();
          this.log.warn({ event: 'upstream_error', direction: 'outbound', listener: this.name, upstream: url, error: err.message }, err.name === 'PeerRefusedError' ? 'peer refused' : 'peer unreachable');
          return upstreamMessage(err);
        },
      });
    } else if (cfg.protocol === 'http') {
      this.agent = new DialingAgent(this.dialer, { servername: cfg.serverName, alpn: ['http/1.1'] });
      const closing = (req: IncomingMessage) => this.tracker.closing(req.socket);
      this.forwarder = createForwarder({ agent: this.agent, xfwd: false, closing });
      if (cfg.meshNetworks) this.plainForwarder = createForwarder({ agent: new http.Agent({ keepAlive: true }), xfwd: false, closing });
      this.http = createHttpFront({
        direction: 'outbound',
        listener: this.name,
        tracker: this.tracker,
        metrics,
        log,
        clock: g.clock,
        peerOf: (s) => this.conns.get(s)?.peer,
        handle: (req, res) => this.forwardRequest(req, res),
        upgrade: (req, socket, head) => this.forwardUpgrade(req, socket, head),
      });
    }
  }

  async listen(): Promise<void> {
    await listenOn(this.server, this.cfg.listen, `${this.name}.listen`);
    this.listening = true;
  }

  address(): HostPort {
    const a = this.server.address() as net.AddressInfo;
    return { host: a.address, port: a.port };
  }

  stopAccepting(): void {
    this.listening = false;
    this.server.close();
  }

  /**
   * Recycle what a rotated or expired certificate no longer covers: tcp
   * connections (after recycleGraceSeconds, when set) and pooled mTLS
   * connections to peers (idle ones now, busy ones after their response).
   */
  recycle(pick: (generation: number, peerNotAfter: number | undefined) => boolean, now: number): number {
    if (this.agent) return this.agent.dropStale(now);
    if (this.peerPool) return this.peerPool.dropStale(now);
    const grace = this.cfg.recycleGraceSeconds;
    return this.tracker.recycle(pick, { tcpGraceMs: grace === undefined || grace === 0 ? undefined : grace * 1000, closeIdleHttp: false });
  }

  /** Pooled peer connections closed instead of reused because they were stale. */
  get agentRecycled(): number {
    return this.agent?.recycled ?? this.peerPool?.recycled ?? 0;
  }

  /** Drop idle pooled keep-alive connections to peers (drain, identity rotation); busy ones finish first. */
  closeIdlePeers(): void {
    this.peerPool?.closeIdle();
    this.plainPool?.closeIdle();
    if (!this.agent) return;
    for (const sockets of Object.values(this.agent.freeSockets)) for (const s of sockets ?? []) s.destroy();
  }

  /** After the drain deadline: everything goes. */
  destroyPeers(): void {
    this.agent?.destroy();
    this.peerPool?.destroy();
    this.plainPool?.destroy();
  }

  private onConnection(app: Socket): void {
    this.metrics.connectionOpened('outbound');
    const conn: Conn = { started: this.g.clock(), mesh: true, result: 'error' };
    this.conns.set(app, conn);
    app.on('error', () => {});
    app.setNoDelay(true);
    app.once('close', () => {
      this.metrics.connectionClosed('outbound', app.bytesRead, app.bytesWritten);
      this.tracker.delete(app);
      this.logConnection(conn, app.bytesRead, app.bytesWritten);
    });
    if (!this.store.current || !this.listening) {
      conn.reason = 'not_ready';
      app.destroy();
      return;
    }
    if (this.cfg.connect === 'original') {
      try {
        const dst = originalDst(app);
        conn.target = { host: dst.address, port: dst.port };
        conn.mesh = this.inMesh(dst.address);
      } catch (err) {
        conn.reason = 'original_dst';
        this.log.error({ event: 'original_dst_failed', listener: this.name, error: (err as Error).message }, 'cannot read the original destination');
        app.destroy();
        return;
      }
    } else {
      conn.target = this.cfg.connect;
    }
    this.tracker.add(app, this.store.current.generation);
    if (this.engine) {
      conn.result = 'ok';
      this.tracker.markHttp(app);
      this.engine.serve(app, this.routeTo(conn.target, conn.mesh));
      return;
    }
    if (this.http) {
      conn.result = 'ok';
      this.tracker.markHttp(app);
      this.http.emit('connection', app);
      app.resume();
      return;
    }
    const target = conn.target;
    if (!conn.mesh) {
      conn.result = 'passthrough';
      const upstream = net.connect({ host: target.host, port: target.port, allowHalfOpen: true });
      upstream.once('connect', () => splice(app, upstream, () => {}));
      upstream.once('error', (err: NodeJS.ErrnoException) => {
        if (upstream.connecting || !upstream.remoteAddress) this.upstreamFailed(conn, app, err);
      });
      return;
    }
    this.dialer.dial({ host: target.host, port: target.port, servername: this.cfg.serverName }, (err, peer, decision) => {
      if (err || !peer) {
        const refused = err?.name === 'PeerRefusedError';
        conn.result = refused ? 'refused' : 'error';
        conn.reason = refused ? (err as unknown as { reason: string }).reason : 'upstream_connect';
        conn.peer = (err as unknown as { peer?: string })?.peer;
        app.destroy();
        return;
      }
      conn.result = 'ok';
      conn.peer = decision?.id.toString();
      this.tracker.setPeer(app, decision?.leaf.notAfter);
      peer.allowHalfOpen = true;
      if (app.destroyed) {
        peer.destroy();
        return;
      }
      splice(app, peer, () => {});
    });
  }

  /** The peer (mTLS, pooled) or, outside meshNetworks, the plain destination (h1 engine). */
  private routeTo(t: HostPort, mesh: boolean): Route {
    const key = `${mesh ? 'https' : 'http'}://${formatHostPort(t)}`;
    let r = this.routes.get(key);
    if (!r) {
      const dial: Route['dial'] = mesh
        ? (cb) => this.dialer.dial({ host: t.host, port: t.port, servername: this.cfg.serverName, alpn: ['http/1.1'] }, (err, s) => cb(err, s))
        : (cb) => {
            const s = net.connect({ host: t.host, port: t.port, allowHalfOpen: true });
            s.setNoDelay(true);
            const onError = (err: NodeJS.ErrnoException) => {
              this.metrics.upstreamErrors.labels('outbound', 'connect').inc();
              cb(new UpstreamError('connect', `connect ${formatHostPort(t)}: ${err.code ?? err.message}`, { cause: err }));
            };
            s.once('error', onError);
            s.once('connect', () => {
              s.removeListener('error', onError);
              cb(null, s);
            });
          };
      r = { key, url: key, pool: mesh ? this.peerPool! : this.plainPool!, dial };
      if (this.routes.size < 1024) this.routes.set(key, r);
    }
    return r;
  }

  private upstreamFailed(conn: Conn, app: Socket, err: NodeJS.ErrnoException): void {
    conn.result = 'error';
    conn.reason = 'upstream_connect';
    this.metrics.upstreamErrors.labels('outbound', 'connect').inc();
    this.log.warn({ event: 'upstream_error', direction: 'outbound', listener: this.name, error: err.code ?? err.message }, 'upstream unreachable');
    app.destroy();
  }

  private targetOf(req: IncomingMessage): { url: string; mesh: boolean } | undefined {
    const conn = this.conns.get(req.socket);
    if (!conn?.target) return undefined;
    return { url: `${conn.mesh ? 'https' : 'http'}://${formatHostPort(conn.target)}`, mesh: conn.mesh };
  }

  private forwardRequest(req: IncomingMessage, res: ServerResponse): void {
    const t = this.targetOf(req);
    if (!t) return sendError(res, 502, 'no upstream');
    const fwd = t.mesh ? this.forwarder! : this.plainForwarder!;
    fwd.web(req, res, t.url, (err) => {
      const refused = err.name === 'PeerRefusedError';
      // The dialer counted its own failures (handshakes, connects); count the rest here.
      if (!(err instanceof TlsmeshError)) this.metrics.upstreamErrors.labels('outbound', kindOf(err)).inc();
      this.log.warn({ event: 'upstream_error', direction: 'outbound', listener: this.name, upstream: t.url, error: err.message }, refused ? 'peer refused' : 'peer unreachable');
      sendError(res, 502, upstreamMessage(err));
    });
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

  private logConnection(conn: Conn, rx: number, tx: number): void {
    if (!this.log.isLevelEnabled('info')) return;
    this.log.info({
      event: 'connection',
      direction: 'outbound',
      listener: this.name,
      peer: conn.peer,
      upstream: conn.target ? formatHostPort(conn.target) : undefined,
      result: conn.result,
      reason: conn.reason,
      rx,
      tx,
      durationMs: this.g.clock() - conn.started,
    });
  }
}

// Inbound: peers -> this pod's app. Accept (net/accepting-listener.ts),
// (permissive: tell TLS from plaintext by the first byte; tcp: whether the
// ClientHello offers multiplexing), terminate TLS, check the peer, and only
// then open anything towards the app: tcp is spliced here (a connection, or
// each stream of a multiplexed one: net/mux.ts), http is served by
// http-serving.ts.
import type { Http2Server, IncomingHttpHeaders, ServerHttp2Session } from 'node:http2';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import tls, { type TLSSocket } from 'node:tls';
import type { InboundConfig } from '../config/index.js';
import { formatHostPort, type HostPort } from '../config/index.js';
import type { CredentialStore } from '../identity/credential-store.js';
import type { Credentials } from '../identity/credentials.js';
import { checkPeer, type PeerPolicy } from '../identity/peer-check.js';
import { http2 } from '../lazy-builtins.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { AcceptingListener, type ListenerGlobals } from '../net/accepting-listener.js';
import { FRAMES_ALPN, FrameSession } from '../net/frames.js';
import { isMuxAlpn, MUX_PROTOCOLS, MUX_SESSION_MEMORY_MB, MUX_SETTINGS, tuneCarrier, type MuxServerSession, type MuxServerStream } from '../net/mux.js';
import { noop } from '../net/noop.js';
import { splice } from '../net/splice.js';
import { firstRecordIncomplete, offersAlpn } from '../tls/client-hello.js';
import { serverContextOptions, tlsVersion } from '../tls/contexts.js';
import { evidenceFromSocket, PeerCache } from '../tls/peer-evidence.js';
import { compilePolicy } from '../tls/policy.js';
import { plainAppConnector, tlsAppConnector, type AppConnector } from './app-connector.js';
import { httpEngineKind } from '../http/engine-choice.js';
import { InboundHttp } from './http-serving.js';
import { Offload, usesOffload } from '../offload/offload.js';

interface Conn {
  started: number;
  remote: string;
  peer?: string;
  /** Envoy-format identity header value for http. */
  xfcc?: string;
  target?: HostPort;
  result: 'ok' | 'refused' | 'error' | 'plaintext';
  reason?: string;
  generation: number;
  peerNotAfter?: number;
  /** A stream of a multiplexed connection: that connection's TLS socket (its address, for the forwarding headers). */
  via?: TLSSocket;
}

const TLS_HANDSHAKE_RECORD = 0x16;

export class InboundListener extends AcceptingListener<Conn> {
  private readonly tlsServer: tls.Server;
  /** tcp: the same TLS server with ALPN tlsmesh-mux/1, for clients that offer it (net/mux.ts). */
  private readonly muxTls?: tls.Server;
  /** Accepts multiplexed connections (tcp, or http: each stream a keep-alive connection). */
  private readonly multiplexes: boolean;
  /** Made at the first multiplexed connection: loading node:http2 costs start-up time. */
  private h2?: Http2Server;
  /** Multiplexed connections, with the record of the carrier each came on. */
  private readonly muxSessions = new Map<MuxServerSession, Conn>();
  private readonly policy: PeerPolicy;
  private readonly cache = new PeerCache();
  private readonly app: AppConnector;
  private readonly http?: InboundHttp;
  /** TLS offload (tls: server): own certificates by SNI, policy, HSTS, redirect, ACME. */
  readonly offload?: Offload;
  private generation = 0;

  constructor(
    private readonly cfg: InboundConfig,
    index: number,
    g: ListenerGlobals,
    store: CredentialStore,
    metrics: Metrics,
    log: Logger,
  ) {
    super(cfg.name ?? `inbound[${index}]`, 'inbound', cfg, false, g, store, metrics, log);
    this.policy = compilePolicy({ trustDomain: g.trustDomain, ids: cfg.allow, pins: cfg.pins, role: 'client', skewMs: g.skewMs }, log, this.name);
    this.app = cfg.upstreamTls
      ? tlsAppConnector(cfg.upstreamTls, {
          field: `inbound[${index}]`,
          listener: this.name,
          store,
          minVersion: g.minVersion,
          handshakeTimeoutMs: g.handshakeTimeoutMs,
          skewMs: g.skewMs,
          clock: g.clock,
          metrics,
          log,
        })
      : plainAppConnector(metrics);
    // http streams are served by the h1 engine (the node:http front takes sockets only).
    const muxHttp = cfg.protocol === 'http' && cfg.tls !== 'server' && cfg.multiplex !== false && httpEngineKind() === 'h1';
    if (usesOffload(cfg)) this.offload = new Offload(cfg, { field: `inbound[${index}]`, listener: this.name, skewMs: g.skewMs, clock: g.clock, metrics, log });
    const tlsOptions: tls.TlsOptions = {
      requestCert: cfg.tls !== 'server',
      rejectUnauthorized: false,
      handshakeTimeout: g.handshakeTimeoutMs,
      minVersion: tlsVersion(g.minVersion),
      // http: tlsmesh-mux/2 and /1 first, for tlsmesh peers that offer them; other
      // clients (curl, Prometheus, Go) offer only http/1.1 or h2 and get http/1.1.
      ALPNProtocols: cfg.protocol === 'http' ? (muxHttp ? [...MUX_PROTOCOLS, 'http/1.1'] : ['http/1.1']) : undefined,
      // No half-open during the handshake: a peer's FIN mid-handshake must end
      // it at once. tcp connections allow half-close once admitted (serve()).
      allowHalfOpen: false,
      ...this.offload?.serverOptions(),
    };
    this.tlsServer = new tls.Server(tlsOptions);
    this.offload?.attach(this.tlsServer);
    const servers = [this.tlsServer];
    if (cfg.protocol === 'tcp' && cfg.tls !== 'server' && cfg.multiplex !== false) {
      // A second server because Node cannot decline an ALPN offer politely:
      // with a protocol list, a client that offers none of it gets a fatal
      // alert. So the ClientHello is read first, and only clients that offer
      // tlsmesh-mux/2 or /1 meet the server that speaks them.
      this.muxTls = new tls.Server({ ...tlsOptions, ALPNProtocols: MUX_PROTOCOLS });
      servers.push(this.muxTls);
    }
    this.multiplexes = this.muxTls !== undefined || muxHttp;
    for (const server of servers) {
      server.on('secureConnection', (s: TLSSocket) => this.onSecure(s));
      server.on('tlsClientError', (err: NodeJS.ErrnoException, s: TLSSocket) => this.onTlsError(err, s));
    }
    if (cfg.protocol === 'http') {
      this.http = new InboundHttp({ listener: this.name, app: this.app, tracker: this.tracker, metrics, log, accessLog: g.accessLog, clock: g.clock, offload: this.offload, connOf: (s) => this.connOf(s) });
    }
    const creds = store.current;
    if (creds) this.onCredentials(creds);
  }

  override async listen(): Promise<void> {
    await this.offload?.start();
    await super.listen();
  }

  onCredentials(creds: Credentials): void {
    if (!this.offload?.ownsCertificates) {
      // One set of options for both servers: the same ticket keys, so a session resumes on either.
      const options = { ...serverContextOptions(creds, this.g.minVersion), ...this.offload?.policy };
      this.tlsServer.setSecureContext(options);
      this.muxTls?.setSecureContext(options);
    }
    this.cache.clearChains();
    // Offload with its own certificates: client connections do not depend on the workload identity.
    this.generation = this.offload?.ownsCertificates ? Number.MAX_SAFE_INTEGER : creds.generation;
  }

  /**
   * Recycle connections a rotated or expired certificate no longer covers.
   * Multiplexed connections get GOAWAY at once: the peer opens new streams on
   * a fresh connection, and the streams already open finish (or are closed
   * after recycleGraceSeconds, like any tcp connection).
   */
  recycle(pick: (generation: number, peerNotAfter: number | undefined) => boolean, closeIdleHttp: boolean): number {
    let n = 0;
    for (const [session, c] of this.muxSessions) {
      if (session.closed || !pick(c.generation, c.peerNotAfter)) continue;
      session.close();
      n += 1;
    }
    return n + this.recycleTracked(pick, closeIdleHttp);
  }

  override stopAccepting(): void {
    super.stopAccepting();
    this.offload?.stop();
    for (const session of this.muxSessions.keys()) session.close();
  }

  // ---- accept ----

  protected newConn(raw: Socket): Conn {
    return { started: this.g.clock(), remote: `${raw.remoteAddress}:${raw.remotePort}`, result: 'error', generation: this.generation };
  }

  protected ready(): boolean {
    return !!this.store.current || !!this.offload?.ownsCertificates;
  }

  protected admit(raw: Socket, conn: Conn): void {
    if (this.cfg.forward === 'original') {
      const dst = this.originalDst(raw, conn);
      if (!dst) return;
      conn.target = { host: '127.0.0.1', port: dst.port };
    } else {
      conn.target = this.cfg.forward;
    }
    if (this.cfg.tls === 'permissive' || this.muxTls) this.peek(raw, conn);
    else this.tlsServer.emit('connection', raw);
  }

  /**
   * Read the first bytes before choosing who handles them. Permissive: a TLS
   * handshake record starts with 0x16; anything else is plaintext. tcp: a
   * ClientHello that offers tlsmesh-mux/1 goes to the server that speaks it.
   */
  private peek(raw: Socket, conn: Conn): void {
    raw.setTimeout(this.g.handshakeTimeoutMs, () => {
      this.refuse(conn, 'protocol', 'no bytes before the handshake timeout');
      raw.destroy();
    });
    const onEnd = () => {
      this.refuse(conn, 'protocol', 'closed before the handshake');
      raw.destroy();
    };
    raw.once('end', onEnd);
    let head: Buffer | undefined;
    const onData = (chunk: Buffer) => {
      head = head ? Buffer.concat([head, chunk]) : chunk;
      // Multiplexing is chosen from the whole ClientHello: wait for the rest of its record.
      if (this.muxTls && firstRecordIncomplete(head)) return;
      raw.removeListener('data', onData);
      raw.setTimeout(0);
      raw.removeListener('end', onEnd);
      raw.pause();
      raw.unshift(head);
      if (head[0] !== TLS_HANDSHAKE_RECORD && this.cfg.tls === 'permissive') {
        conn.result = 'plaintext';
        this.serve(raw, conn);
        if (this.http) raw.resume();
        return;
      }
      (this.muxTls && offersAlpn(head, MUX_PROTOCOLS) === true ? this.muxTls : this.tlsServer).emit('connection', raw);
    };
    raw.on('data', onData);
    raw.resume();
  }

  private onTlsError(err: NodeJS.ErrnoException, s: TLSSocket): void {
    this.offload?.handshakeError(err, s);
    const conn = this.connOf(s);
    if (conn) this.refuse(conn, 'protocol', err.code ?? err.message);
    else this.metrics.handshakeRefused('inbound', 'protocol');
    s.destroy();
  }

  private onSecure(s: TLSSocket): void {
    const conn = this.connOf(s)!;
    s.on('error', noop);
    // TLS 1.2 peers may not renegotiate (TLS 1.3 has no renegotiation at all).
    s.disableRenegotiation();
    if (this.cfg.tls === 'server') {
      this.offload?.handshakeOk(s);
      this.metrics.handshakeOk('inbound', s.isSessionReused());
      conn.result = 'ok';
      this.serve(s, conn);
      return;
    }
    const creds = this.store.current!;
    const evidence = evidenceFromSocket(s, { cache: this.cache, needPins: this.policy.pins !== undefined, anchors: creds.anchors, skewMs: this.g.skewMs, now: this.g.clock() });
    const decision = checkPeer(evidence, this.policy, this.g.clock());
    if (!decision.ok) {
      conn.peer = decision.id?.toString();
      this.refuse(conn, decision.reason, decision.detail);
      s.destroy();
      return;
    }
    this.metrics.handshakeOk('inbound', s.isSessionReused());
    conn.result = 'ok';
    conn.peer = decision.id.toString();
    conn.peerNotAfter = decision.leaf.notAfter;
    if (this.cfg.protocol === 'http') conn.xfcc = `By=${creds.spiffeId.toString()};Hash=${decision.leaf.sha256};URI=${conn.peer}`;
    if (isMuxAlpn(s.alpnProtocol) && this.multiplexes) this.serveMux(s, conn);
    else this.serve(s, conn);
  }

  private refuse(conn: Conn, reason: Parameters<Metrics['handshakeRefused']>[1], detail: string): void {
    this.metrics.handshakeRefused('inbound', reason);
    conn.result = 'refused';
    conn.reason = reason;
    this.log.warn({ event: 'handshake', direction: 'inbound', listener: this.name, result: 'refused', reason, detail, peer: conn.peer, remote: conn.remote }, 'peer refused');
  }

  private connOf(s: Socket): Conn | undefined {
    return this.conns.get(s) ?? this.conns.get((s as unknown as { _parent?: Socket })._parent as Socket);
  }

  // ---- serve an admitted connection ----

  /** Record an admitted connection (a plain or TLS socket, or a carrier) for the tracker and connOf. */
  private track(s: Socket, conn: Conn): void {
    this.conns.set(s, conn);
    this.tracker.add(s, conn.generation, conn.peerNotAfter);
    s.on('close', () => this.tracker.delete(s));
  }

  private serve(s: Socket, conn: Conn): void {
    this.track(s, conn);
    if (this.http) {
      this.tracker.markHttp(s);
      this.http.serve(s, conn.target!);
      return;
    }
    s.pause();
    // tcp carries half-close both ways from here on.
    s.allowHalfOpen = true;
    this.toApp(conn, s, () => s.destroy(), (app) => splice(s, app, noop));
  }

  /** tcp: connect to the app for `down` (a socket or a stream); a failure is recorded on `conn` and logged. */
  private toApp(conn: Conn, down: Duplex, failed: () => void, connected: (app: Socket) => void): void {
    const target = conn.target!;
    this.app.connect(target.host, target.port, (err, app) => {
      if (err || !app) {
        conn.result = 'error';
        conn.reason = 'upstream_connect';
        this.log.warn({ event: 'upstream_error', direction: 'inbound', listener: this.name, upstream: formatHostPort(target), error: err?.message }, 'app unreachable: closing the connection');
        failed();
        return;
      }
      if (down.destroyed) {
        app.destroy();
        return;
      }
      connected(app);
    });
  }

  // ---- multiplexed tcp (net/mux.ts) ----

  /** The carrier: its peer passed above; every stream on it is a tcp connection to the app (an http keep-alive connection). */
  private serveMux(s: TLSSocket, conn: Conn): void {
    this.track(s, conn);
    const carrier = s.alpnProtocol === FRAMES_ALPN ? this.framesSession(s) : this.h2Session(s);
    if (!carrier) {
      s.destroy();
      return;
    }
    this.muxSessions.set(carrier, conn);
    carrier.on('error', (err: Error) => this.log.warn({ event: 'mux_error', direction: 'inbound', listener: this.name, peer: conn.peer, remote: conn.remote, error: err.message }, 'multiplexed connection from the peer failed'));
    carrier.on('close', () => this.muxSessions.delete(carrier));
    carrier.on('stream', (stream: MuxServerStream, headers: IncomingHttpHeaders) => this.onStream(stream, headers, conn, s));
  }

  private framesSession(s: TLSSocket): FrameSession {
    tuneCarrier(s);
    return new FrameSession(s, 'server');
  }

  private h2Session(s: TLSSocket): ServerHttp2Session | undefined {
    let session: ServerHttp2Session | undefined;
    const take = (x: ServerHttp2Session) => (session = x);
    const h2 = (this.h2 ??= http2().createServer({ settings: MUX_SETTINGS, maxSessionMemory: MUX_SESSION_MEMORY_MB }));
    h2.once('session', take);
    h2.emit('connection', s);
    h2.removeListener('session', take);
    if (session) tuneCarrier(s, session);
    return session;
  }

  private onStream(stream: MuxServerStream, headers: IncomingHttpHeaders, carrier: Conn, via: TLSSocket): void {
    stream.on('error', noop);
    if (headers[':method'] !== 'CONNECT') {
      this.log.warn({ event: 'mux_error', direction: 'inbound', listener: this.name, peer: carrier.peer, remote: carrier.remote, error: `${headers[':method']} instead of CONNECT` }, 'refused a stream that is not CONNECT');
      stream.respond({ ':status': 405 }, { endStream: true });
      return;
    }
    this.metrics.connectionOpened('inbound');
    const conn: Conn = { ...carrier, started: this.g.clock(), result: 'ok', reason: undefined };
    this.tracker.add(stream, conn.generation, conn.peerNotAfter);
    if (this.http) {
      // http: the stream is a keep-alive connection from the peer's sidecar;
      // the h1 engine serves it, reaching the app per request (its pool).
      const down = stream as unknown as Socket;
      conn.via = via;
      this.conns.set(down, conn);
      this.tracker.markHttp(down);
      stream.on('close', () => this.ended(stream, conn, 0, 0));
      // The peer's END_STREAM ends ours too, as a socket without half-open does.
      stream.once('end', () => stream.end());
      stream.respond({ ':status': 200 });
      this.http.serve(down, conn.target!);
      return;
    }
    let upstream: Socket | undefined;
    stream.on('close', () => this.ended(stream, conn, upstream?.bytesWritten ?? 0, upstream?.bytesRead ?? 0));
    this.toApp(
      conn,
      stream,
      () => stream.destroyed || stream.respond({ ':status': 502 }, { endStream: true }),
      (app) => {
        upstream = app;
        stream.respond({ ':status': 200 });
        splice(stream, app, noop, { coalesce: true });
      },
    );
  }
}

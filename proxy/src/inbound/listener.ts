// Inbound: peers -> this pod's app. Accept, (permissive: tell TLS from
// plaintext by the first byte), terminate TLS, check the peer, and only then
// open anything towards the app.
import net, { type Socket } from 'node:net';
import tls, { type TLSSocket } from 'node:tls';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { InboundConfig } from '../config/index.js';
import { TlsmeshError } from '../errors.js';
import { formatHostPort, type HostPort } from '../config/index.js';
import { originalDst } from '../capture/original-dst.js';
import type { CredentialStore } from '../identity/credential-store.js';
import type { Credentials } from '../identity/credentials.js';
import { checkPeer, type PeerPolicy } from '../identity/peer-check.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { splice } from '../net/splice.js';
import { ConnTracker } from '../net/tracker.js';
import { createForwarder, type Forwarder } from '../http/forwarder.js';
import { createHttpFront, sendError } from '../http/front.js';
import { httpEngineKind } from '../http/engine-choice.js';
import { H1Engine, type Route } from '../http/h1/engine.js';
import type { RequestHead } from '../http/h1/parse.js';
import { SocketPool } from '../http/h1/pool.js';
import { serverContextOptions, tlsVersion, type MinTlsVersion } from '../tls/contexts.js';
import { evidenceFromSocket, PeerCache } from '../tls/peer-evidence.js';
import { compilePolicy } from '../tls/policy.js';
import { plainAppConnector, tlsAppConnector, type AppConnector } from './app-connector.js';
import { listenOn } from '../net/listen.js';
import { Offload, usesOffload } from '../offload/offload.js';

export interface ListenerGlobals {
  trustDomain: string;
  minVersion: MinTlsVersion;
  handshakeTimeoutMs: number;
  skewMs: number;
  clock: () => number;
}

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
}

const TLS_HANDSHAKE_RECORD = 0x16;

export class InboundListener {
  readonly name: string;
  readonly tracker = new ConnTracker();
  private readonly server: net.Server;
  private readonly tlsServer: tls.Server;
  private readonly policy: PeerPolicy;
  private readonly cache = new PeerCache();
  private readonly conns = new WeakMap<Socket, Conn>();
  private readonly app: AppConnector;
  private readonly forwarder?: Forwarder;
  private readonly http?: ReturnType<typeof createHttpFront>;
  private readonly engine?: H1Engine;
  private readonly appPool = new SocketPool();
  private readonly routes = new Map<string, Route>();
  /** TLS offload (tls: server): own certificates by SNI, policy, HSTS, redirect, ACME. */
  readonly offload?: Offload;
  private generation = 0;
  listening = false;

  constructor(
    private readonly cfg: InboundConfig,
    index: number,
    private readonly g: ListenerGlobals,
    private readonly store: CredentialStore,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {
    this.name = cfg.name ?? `inbound[${index}]`;
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
    if (usesOffload(cfg)) this.offload = new Offload(cfg, { field: `inbound[${index}]`, listener: this.name, skewMs: g.skewMs, clock: g.clock, metrics, log });
    this.tlsServer = new tls.Server({
      requestCert: cfg.tls !== 'server',
      rejectUnauthorized: false,
      handshakeTimeout: g.handshakeTimeoutMs,
      minVersion: tlsVersion(g.minVersion),
      ALPNProtocols: cfg.protocol === 'http' ? ['http/1.1'] : undefined,
      // No half-open during the handshake: a peer's FIN mid-handshake must end
      // it at once. tcp connections allow half-close once admitted (serve()).
      allowHalfOpen: false,
      ...this.offload?.serverOptions(),
    });
    this.offload?.attach(this.tlsServer);
    this.tlsServer.on('secureConnection', (s: TLSSocket) => this.onSecure(s));
    this.tlsServer.on('tlsClientError', (err: NodeJS.ErrnoException, s: TLSSocket) => this.onTlsError(err, s));
    this.server = net.createServer({ pauseOnConnect: true, allowHalfOpen: false }, (raw) => this.onConnection(raw));
    this.server.on('error', (err) => log.error({ event: 'listener_error', listener: this.name, error: err.message }, 'listener error'));
    if (cfg.protocol === 'http' && httpEngineKind() === 'h1') {
      this.engine = new H1Engine({
        direction: 'inbound',
        listener: this.name,
        tracker: this.tracker,
        metrics,
        log,
        peerOf: (s) => this.connOf(s)?.peer,
        rewrite: { drop: FORWARDING_HEADERS, add: (down, head) => this.forwardingHeaders(down, head) },
        responseHeaders: this.offload?.responseHeaders,
        onUpstreamError: (err, url) => {
          if (!(err instanceof TlsmeshError)) this.metrics.upstreamErrors.labels('inbound', kindOf(err)).inc();
          this.log.warn({ event: 'upstream_error', direction: 'inbound', listener: this.name, upstream: url, error: err.message }, 'app unreachable');
          return upstreamMessage(err);
        },
      });
    } else if (cfg.protocol === 'http') {
      this.forwarder = createForwarder({ agent: this.app.agent, xfwd: true, closing: (req) => this.tracker.closing(req.socket) });
      this.http = createHttpFront({
        direction: 'inbound',
        listener: this.name,
        tracker: this.tracker,
        metrics,
        log,
        clock: g.clock,
        peerOf: (s) => this.connOf(s)?.peer,
        handle: (req, res) => this.forwardRequest(req, res),
        upgrade: (req, socket, head) => this.forwardUpgrade(req, socket, head),
        responseClass: this.offload?.responseClass,
      });
    }
    const creds = store.current;
    if (creds) this.onCredentials(creds);
  }

  async listen(): Promise<void> {
    await this.offload?.start();
    await listenOn(this.server, this.cfg.listen, `${this.name}.listen`);
    this.listening = true;
  }

  address(): HostPort {
    const a = this.server.address() as net.AddressInfo;
    return { host: a.address, port: a.port };
  }

  onCredentials(creds: Credentials): void {
    if (!this.offload?.ownsCertificates) this.tlsServer.setSecureContext({ ...serverContextOptions(creds, this.g.minVersion), ...this.offload?.policy });
    this.cache.clearChains();
    // Offload with its own certificates: client connections do not depend on the workload identity.
    this.generation = this.offload?.ownsCertificates ? Number.MAX_SAFE_INTEGER : creds.generation;
  }

  /** Recycle connections a rotated or expired certificate no longer covers. */
  recycle(pick: (generation: number, peerNotAfter: number | undefined) => boolean, closeIdleHttp: boolean): number {
    const grace = this.cfg.recycleGraceSeconds;
    return this.tracker.recycle(pick, { tcpGraceMs: grace === undefined || grace === 0 ? undefined : grace * 1000, closeIdleHttp });
  }

  stopAccepting(): void {
    this.listening = false;
    this.server.close();
    this.offload?.stop();
  }

  // ---- accept ----

  private onConnection(raw: Socket): void {
    this.metrics.connectionOpened('inbound');
    const conn: Conn = { started: this.g.clock(), remote: `${raw.remoteAddress}:${raw.remotePort}`, result: 'error', generation: this.generation };
    this.conns.set(raw, conn);
    raw.on('error', () => {});
    raw.setNoDelay(true);
    raw.once('close', () => {
      this.metrics.connectionClosed('inbound', raw.bytesRead, raw.bytesWritten);
      this.logConnection(conn, raw.bytesRead, raw.bytesWritten);
    });
    if ((!this.store.current && !this.offload?.ownsCertificates) || !this.listening) {
      conn.reason = 'not_ready';
      raw.destroy();
      return;
    }
    if (this.cfg.forward === 'original') {
      try {
        const dst = originalDst(raw);
        conn.target = { host: '127.0.0.1', port: dst.port };
      } catch (err) {
        conn.reason = 'original_dst';
        this.log.error({ event: 'original_dst_failed', listener: this.name, error: (err as Error).message }, 'cannot read the original destination');
        raw.destroy();
        return;
      }
    } else {
      conn.target = this.cfg.forward;
    }
    if (this.cfg.tls === 'permissive') this.sniff(raw, conn);
    else this.tlsServer.emit('connection', raw);
  }

  /** Permissive: a TLS handshake record starts with 0x16; anything else is plaintext. */
  private sniff(raw: Socket, conn: Conn): void {
    raw.setTimeout(this.g.handshakeTimeoutMs, () => {
      this.refuse(conn, 'protocol', 'no bytes before the handshake timeout');
      raw.destroy();
    });
    raw.once('data', (chunk: Buffer) => {
      raw.setTimeout(0);
      raw.pause();
      raw.unshift(chunk);
      if (chunk[0] === TLS_HANDSHAKE_RECORD) {
        this.tlsServer.emit('connection', raw);
        return;
      }
      conn.result = 'plaintext';
      this.serve(raw, conn);
      if (this.http || this.engine) raw.resume();
    });
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
    s.on('error', () => {});
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
    this.serve(s, conn);
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

  private serve(s: Socket, conn: Conn): void {
    this.conns.set(s, conn);
    this.tracker.add(s, conn.generation, conn.peerNotAfter);
    s.once('close', () => this.tracker.delete(s));
    if (this.engine) {
      this.tracker.markHttp(s);
      this.engine.serve(s, this.routeTo(conn.target!));
      return;
    }
    if (this.http) {
      this.tracker.markHttp(s);
      this.http.emit('connection', s);
      return;
    }
    const target = conn.target!;
    s.pause();
    // tcp carries half-close both ways from here on.
    s.allowHalfOpen = true;
    this.app.connect(target.host, target.port, (err, upstream) => {
      if (err || !upstream) {
        conn.result = 'error';
        conn.reason = 'upstream_connect';
        this.log.warn({ event: 'upstream_error', direction: 'inbound', listener: this.name, upstream: formatHostPort(target), error: err?.message }, 'app unreachable: closing the connection');
        s.destroy();
        return;
      }
      if (s.destroyed) {
        upstream.destroy();
        return;
      }
      splice(s, upstream, () => {});
    });
  }

  /** The app at `t`, with its pool of kept-alive connections (h1 engine). */
  private routeTo(t: HostPort): Route {
    const key = formatHostPort(t);
    let r = this.routes.get(key);
    if (!r) {
      r = { key, url: `${this.app.scheme}://${key}`, pool: this.appPool, dial: (cb) => this.app.connect(t.host, t.port, cb) };
      if (this.routes.size < 1024) this.routes.set(key, r);
    }
    return r;
  }

  /**
   * h1 engine: the identity header (the client's removed, ours added) and
   * X-Forwarded-For/-Port/-Proto/-Host as http-proxy's xfwd writes them.
   */
  private forwardingHeaders(down: Socket, head: RequestHead): string {
    const xfcc = this.connOf(down)?.xfcc;
    const encrypted = (down as TLSSocket).encrypted === true;
    let host: string | undefined;
    let hasForwardedHost = false;
    for (let i = 0; i < head.names.length; i++) {
      if (head.names[i] === 'host') host ??= head.values[i];
      else if (head.names[i] === 'x-forwarded-host') hasForwardedHost = true;
    }
    const port = host ? /:(\d+)/.exec(host)?.[1] : undefined;
    let s = xfcc ? `x-forwarded-client-cert: ${xfcc}\r\n` : '';
    s += appendForwarded(head, 'x-forwarded-for', down.remoteAddress ?? '');
    s += appendForwarded(head, 'x-forwarded-port', port ?? (encrypted ? '443' : '80'));
    s += appendForwarded(head, 'x-forwarded-proto', encrypted ? 'https' : 'http');
    if (!hasForwardedHost && host) s += `x-forwarded-host: ${host}\r\n`;
    return s;
  }

  private targetUrl(req: IncomingMessage): string | undefined {
    const conn = this.connOf(req.socket);
    const t = conn?.target;
    return t ? `${this.app.scheme}://${formatHostPort(t)}` : undefined;
  }

  private identityHeaders(req: IncomingMessage): void {
    delete req.headers['x-forwarded-client-cert'];
    const xfcc = this.connOf(req.socket)?.xfcc;
    if (xfcc) req.headers['x-forwarded-client-cert'] = xfcc;
  }

  private forwardRequest(req: IncomingMessage, res: ServerResponse): void {
    const target = this.targetUrl(req);
    if (!target) return sendError(res, 502, 'no upstream');
    this.identityHeaders(req);
    this.forwarder!.web(req, res, target, (err) => {
      // Our dialer counted its own failures (TLS to the app); count the rest here.
      if (!(err instanceof TlsmeshError)) this.metrics.upstreamErrors.labels('inbound', kindOf(err)).inc();
      this.log.warn({ event: 'upstream_error', direction: 'inbound', listener: this.name, upstream: target, error: err.message }, 'app unreachable');
      sendError(res, 502, upstreamMessage(err));
    });
  }

  private forwardUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const target = this.targetUrl(req);
    if (!target) {
      socket.destroy();
      return;
    }
    this.identityHeaders(req);
    this.forwarder!.ws(req, socket, head, target, (err) => {
      if (!(err instanceof TlsmeshError)) this.metrics.upstreamErrors.labels('inbound', kindOf(err)).inc();
      socket.destroy();
    });
  }

  private logConnection(conn: Conn, rx: number, tx: number): void {
    if (!this.log.isLevelEnabled('info')) return;
    this.log.info({
      event: 'connection',
      direction: 'inbound',
      listener: this.name,
      peer: conn.peer,
      remote: conn.remote,
      result: conn.result,
      reason: conn.reason,
      rx,
      tx,
      durationMs: this.g.clock() - conn.started,
    });
  }
}

/** Request headers the inbound h1 engine replaces (identity and forwarding). */
const FORWARDING_HEADERS: ReadonlySet<string> = new Set(['x-forwarded-client-cert', 'x-forwarded-for', 'x-forwarded-port', 'x-forwarded-proto']);

/** `name: <values the client sent>,<ours>` (http-proxy's xfwd). */
function appendForwarded(head: RequestHead, name: string, value: string): string {
  let prior: string | undefined;
  for (let i = 0; i < head.names.length; i++) if (head.names[i] === name) prior = prior === undefined ? head.values[i] : `${prior}, ${head.values[i]}`;
  return `${name}: ${prior ? `${prior},${value}` : value}\r\n`;
}

/** The short body of a 502: our own errors say what happened, system errors give their code. */
export function upstreamMessage(err: Error): string {
  if (err instanceof TlsmeshError) return err.message;
  return `upstream unavailable: ${(err as NodeJS.ErrnoException).code ?? err.message}`;
}

export function kindOf(err: Error): 'connect' | 'reset' | 'timeout' | 'tls' {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ECONNRESET' || code === 'EPIPE') return 'reset';
  if (code === 'ETIMEDOUT') return 'timeout';
  if (err.name === 'PeerRefusedError' || err.name === 'UpstreamError') {
    const kind = (err as { kind?: string }).kind;
    if (kind === 'timeout') return 'timeout';
    if (kind === 'tls') return 'tls';
  }
  return 'connect';
}

// Inbound: peers -> this pod's app. Accept (net/accepting-listener.ts),
// (permissive: tell TLS from plaintext by the first byte), terminate TLS, check
// the peer, and only then open anything towards the app: tcp is spliced here,
// http is served by http-serving.ts.
import type { Socket } from 'node:net';
import tls, { type TLSSocket } from 'node:tls';
import type { InboundConfig } from '../config/index.js';
import { formatHostPort, type HostPort } from '../config/index.js';
import type { CredentialStore } from '../identity/credential-store.js';
import type { Credentials } from '../identity/credentials.js';
import { checkPeer, type PeerPolicy } from '../identity/peer-check.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { AcceptingListener, type ListenerGlobals } from '../net/accepting-listener.js';
import { noop } from '../net/noop.js';
import { splice } from '../net/splice.js';
import { serverContextOptions, tlsVersion } from '../tls/contexts.js';
import { evidenceFromSocket, PeerCache } from '../tls/peer-evidence.js';
import { compilePolicy } from '../tls/policy.js';
import { plainAppConnector, tlsAppConnector, type AppConnector } from './app-connector.js';
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
}

const TLS_HANDSHAKE_RECORD = 0x16;

export class InboundListener extends AcceptingListener<Conn> {
  private readonly tlsServer: tls.Server;
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
    if (!this.offload?.ownsCertificates) this.tlsServer.setSecureContext({ ...serverContextOptions(creds, this.g.minVersion), ...this.offload?.policy });
    this.cache.clearChains();
    // Offload with its own certificates: client connections do not depend on the workload identity.
    this.generation = this.offload?.ownsCertificates ? Number.MAX_SAFE_INTEGER : creds.generation;
  }

  /** Recycle connections a rotated or expired certificate no longer covers. */
  recycle(pick: (generation: number, peerNotAfter: number | undefined) => boolean, closeIdleHttp: boolean): number {
    return this.recycleTracked(pick, closeIdleHttp);
  }

  override stopAccepting(): void {
    super.stopAccepting();
    this.offload?.stop();
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
      if (this.http) raw.resume();
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
    s.on('close', () => this.tracker.delete(s));
    if (this.http) {
      this.tracker.markHttp(s);
      this.http.serve(s, conn.target!);
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
}

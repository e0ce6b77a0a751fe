// Outbound: this pod's app -> a peer. Accept plaintext from the app
// (net/accepting-listener.ts), originate mTLS to the peer, and carry the
// app's bytes only once the peer passed: tcp is spliced here (onto a stream of
// the peer's multiplexed connection when it takes one: mux-pool.ts), http is
// served by http-serving.ts.
import net, { type Socket } from 'node:net';
import type { OutboundConfig } from '../config/index.js';
import { parseCidr, type HostPort } from '../config/index.js';
import type { CredentialStore } from '../identity/credential-store.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { AcceptingListener, type ListenerGlobals } from '../net/accepting-listener.js';
import { noop } from '../net/noop.js';
import { splice } from '../net/splice.js';
import { clientContext } from '../tls/contexts.js';
import { compilePolicy } from '../tls/policy.js';
import { MtlsDialer } from './dialer.js';
import { httpEngineKind } from '../http/engine-choice.js';
import { OutboundHttp } from './http-serving.js';
import { cidrMatcher } from './mesh-networks.js';
import { MuxPool, type MuxCallback } from './mux-pool.js';

/** A multiplexing carrier without streams for this long is closed. */
const MUX_IDLE_MS = 30_000;

interface Conn {
  started: number;
  target?: HostPort;
  mesh: boolean;
  peer?: string;
  result: 'ok' | 'refused' | 'error' | 'passthrough';
  reason?: string;
}

export class OutboundListener extends AcceptingListener<Conn> {
  readonly dialer: MtlsDialer;
  private readonly inMesh: (address: string) => boolean;
  private readonly http?: OutboundHttp;
  /** tcp over one multiplexed mTLS connection per peer (net/mux.ts); undefined with `multiplex: false`. */
  readonly mux?: MuxPool;

  constructor(
    private readonly cfg: OutboundConfig,
    index: number,
    g: ListenerGlobals,
    store: CredentialStore,
    metrics: Metrics,
    log: Logger,
  ) {
    super(cfg.name ?? `outbound[${index}]`, 'outbound', cfg, cfg.protocol === 'tcp', g, store, metrics, log);
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
    if (cfg.multiplex !== false && (cfg.protocol === 'tcp' || httpEngineKind() === 'h1')) {
      this.mux = new MuxPool({ dialer: this.dialer, openTimeoutMs: g.handshakeTimeoutMs, idleMs: MUX_IDLE_MS, clock: g.clock, metrics, log, listener: this.name });
    }
    if (cfg.protocol === 'http') {
      this.http = new OutboundHttp({ cfg, listener: this.name, dialer: this.dialer, tracker: this.tracker, metrics, log, accessLog: g.accessLog, clock: g.clock, connOf: (s) => this.conns.get(s), mux: this.mux });
    }
  }

  /**
   * Recycle what a rotated or expired certificate no longer covers: tcp
   * connections (after recycleGraceSeconds, when set) and pooled mTLS
   * connections to peers (idle ones now, busy ones after their response).
   */
  recycle(pick: (generation: number, peerNotAfter: number | undefined) => boolean, now: number): number {
    this.mux?.retireStale(now);
    if (this.http) return this.http.dropStale(now);
    return this.recycleTracked(pick, false);
  }

  /** Pooled peer connections (and multiplexing carriers) closed instead of reused because they were stale. */
  get agentRecycled(): number {
    return (this.http?.recycled ?? 0) + (this.mux?.recycled ?? 0);
  }

  /** Drop idle pooled keep-alive connections to peers (drain, identity rotation); busy ones finish first. */
  closeIdlePeers(): void {
    this.http?.closeIdle();
    this.mux?.closeAll();
  }

  /** After the drain deadline: everything goes. */
  destroyPeers(): void {
    this.http?.destroy();
    this.mux?.destroy();
  }

  protected newConn(): Conn {
    return { started: this.g.clock(), mesh: true, result: 'error' };
  }

  protected ready(): boolean {
    return !!this.store.current;
  }

  protected admit(app: Socket, conn: Conn): void {
    if (this.cfg.connect === 'original') {
      const dst = this.originalDst(app, conn);
      if (!dst) return;
      conn.target = { host: dst.address, port: dst.port };
      conn.mesh = this.inMesh(dst.address);
    } else {
      conn.target = this.cfg.connect;
    }
    this.tracker.add(app, this.store.current!.generation);
    if (this.http) {
      conn.result = 'ok';
      this.tracker.markHttp(app);
      this.http.serve(app, conn.target, conn.mesh);
      return;
    }
    const target = conn.target;
    if (!conn.mesh) {
      conn.result = 'passthrough';
      const upstream = net.connect({ host: target.host, port: target.port, allowHalfOpen: true });
      upstream.once('connect', () => splice(app, upstream, noop));
      upstream.once('error', (err: NodeJS.ErrnoException) => {
        if (upstream.connecting || !upstream.remoteAddress) this.upstreamFailed(conn, app, err);
      });
      return;
    }
    const opened: MuxCallback = (err, peer) => {
      if (err || !peer) {
        const refused = err?.name === 'PeerRefusedError';
        conn.result = refused ? 'refused' : 'error';
        conn.reason = refused ? (err as unknown as { reason: string }).reason : 'upstream_connect';
        conn.peer = (err as unknown as { peer?: string })?.peer;
        app.destroy();
        return;
      }
      conn.result = 'ok';
      conn.peer = peer.decision.id.toString();
      this.tracker.setPeer(app, peer.decision.leaf.notAfter);
      const other = peer.stream ?? peer.socket;
      if (peer.socket) peer.socket.allowHalfOpen = true;
      if (app.destroyed) {
        other.destroy();
        return;
      }
      splice(app, other, noop, { coalesce: peer.stream !== undefined });
    };
    const t = { host: target.host, port: target.port, servername: this.cfg.serverName };
    if (this.mux) this.mux.open(t, opened);
    else this.dialer.dial(t, (err, socket, decision) => opened(err, socket && { socket, decision: decision! }));
  }

  private upstreamFailed(conn: Conn, app: Socket, err: NodeJS.ErrnoException): void {
    conn.result = 'error';
    conn.reason = 'upstream_connect';
    this.metrics.upstreamErrors.labels('outbound', 'connect').inc();
    this.log.warn({ event: 'upstream_error', direction: 'outbound', listener: this.name, error: err.code ?? err.message }, 'upstream unreachable');
    app.destroy();
  }
}

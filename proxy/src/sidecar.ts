// The sidecar: one credential store (the only writer), its watcher, the
// listeners that read from it, and the admin server. Signals and exit codes
// stay in cli/proxy.ts.
import { Registry } from 'prom-client';
import type { FrozenProxyConfig } from './config/index.js';
import { CredentialStore } from './identity/credential-store.js';
import type { Credentials } from './identity/credentials.js';
import { watchSources, type Watch } from './identity/watcher.js';
import type { Logger } from './log.js';
import { createMetrics, type Metrics } from './metrics.js';
import { InboundListener } from './inbound/listener.js';
import type { ListenerGlobals } from './net/accepting-listener.js';
import { OutboundListener } from './outbound/listener.js';
import { offloadAdminRoutes } from './offload/admin.js';
import { AdminServer, type AdminHandler } from './admin/server.js';
import type { RecycleCause } from './net/tracker.js';
import { needsRecycle, rotationWarnings } from './identity/rotation-checks.js';
import { APP_HEALTH_PREFIX, createAppHealthHandler } from './admin/app-health.js';

export interface SidecarOptions {
  config: FrozenProxyConfig;
  log: Logger;
  clock?: () => number;
  registry?: Registry;
  /** Extra admin routes by path prefix. */
  adminRoutes?: Record<string, AdminHandler>;
}

export class Sidecar {
  readonly metrics: Metrics;
  readonly store: CredentialStore;
  readonly inbound: InboundListener[];
  readonly outbound: OutboundListener[];
  readonly admin: AdminServer;
  private watch: Watch | undefined;
  private ticker: NodeJS.Timeout | undefined;
  private expiryWarned: 'expiring' | 'expired' | undefined;
  private readonly agentRecycledSeen = new Map<OutboundListener, number>();
  /** Every pin configured on a listener: our own new identity should still match them (peers likely share them). */
  private readonly pins: string[];
  private draining = false;
  private readonly clock: () => number;

  constructor(private readonly o: SidecarOptions) {
    const cfg = o.config;
    this.clock = o.clock ?? Date.now;
    this.metrics = createMetrics(o.registry ?? new Registry());
    this.store = new CredentialStore({
      dir: cfg.identity.dir,
      trustBundle: cfg.identity.trustBundle,
      trustDomain: cfg.trustDomain,
      skewMs: cfg.clockSkewSeconds * 1000,
      clock: this.clock,
      log: o.log,
      onReload: (result) => this.metrics.identityReloads.labels(result).inc(),
    });
    const g: ListenerGlobals = {
      trustDomain: cfg.trustDomain,
      minVersion: cfg.minTlsVersion,
      handshakeTimeoutMs: cfg.handshakeTimeoutSeconds * 1000,
      skewMs: cfg.clockSkewSeconds * 1000,
      accessLog: cfg.accessLog,
      clock: this.clock,
    };
    this.inbound = cfg.inbound.map((c, i) => new InboundListener(c, i, g, this.store, this.metrics, o.log));
    this.outbound = cfg.outbound.map((c, i) => new OutboundListener(c, i, g, this.store, this.metrics, o.log));
    this.pins = [...cfg.inbound.flatMap((l) => l.pins ?? []), ...cfg.outbound.flatMap((l) => l.pins ?? [])];
    this.store.subscribe((next, prev) => this.onCredentials(next, prev));
    this.admin = new AdminServer({
      listen: cfg.admin.listen,
      metrics: this.metrics,
      store: this.store,
      appMetrics: cfg.admin.appMetrics,
      ready: () => this.readiness(),
      clock: this.clock,
      prefixRoutes: {
        // The app's own kubelet probes, rewritten by the injector (docs/injector.md, Probes).
        ...(cfg.admin.appProbes ? { [APP_HEALTH_PREFIX]: createAppHealthHandler(cfg.admin.appProbes) } : {}),
        ...offloadAdminRoutes(this.inbound),
        ...o.adminRoutes,
      },
    });
  }

  async start(): Promise<void> {
    const cfg = this.o.config;
    await this.store.reload('start');
    await this.admin.listen();
    for (const l of [...this.inbound, ...this.outbound]) await l.listen();
    this.watch = watchSources({
      dirs: [cfg.identity.dir],
      files: cfg.identity.trustBundle ? [cfg.identity.trustBundle] : [],
      onHint: (why) => void this.store.reload(why),
      pollMs: cfg.identity.pollSeconds * 1000,
      fast: () => this.store.current === undefined,
      log: this.o.log,
    });
    this.ticker = setInterval(() => this.tick(), 1000);
    this.ticker.unref();
    this.o.log.info(
      {
        event: 'started',
        admin: cfg.admin.listen,
        inbound: this.inbound.map((l) => ({ name: l.name, ...l.address() })),
        outbound: this.outbound.map((l) => ({ name: l.name, ...l.address() })),
        ready: this.readiness().ready,
      },
      'tlsmesh proxy started',
    );
  }

  reload(trigger: string): Promise<unknown> {
    for (const l of this.inbound) void l.offload?.reloadAll();
    return this.store.reload(trigger);
  }

  readiness(): { ready: boolean; why?: string } {
    const r = this.computeReadiness();
    this.metrics.identityReady.set(r.ready ? 1 : 0);
    return r;
  }

  private computeReadiness(): { ready: boolean; why?: string } {
    if (this.draining) return { ready: false, why: 'draining' };
    const creds = this.store.current;
    if (!creds) return { ready: false, why: `no valid identity (${this.store.identityStatus.lastError?.message ?? this.store.absentReason ?? 'not loaded'})` };
    if (this.clock() > creds.leaf.notAfter) return { ready: false, why: `identity expired at ${new Date(creds.leaf.notAfter).toISOString()}` };
    const down = [...this.inbound, ...this.outbound].filter((l) => !l.listening).map((l) => l.name);
    if (down.length) return { ready: false, why: `not listening: ${down.join(', ')}` };
    return { ready: true };
  }

  private onCredentials(next: Credentials, prev: Credentials | undefined): void {
    // Warnings come before the new material is used, so the log says it first.
    for (const w of rotationWarnings(next, prev, this.pins)) {
      this.metrics.trustWarnings.labels(w.kind).inc();
      this.o.log.warn({ event: 'rotation_warning', kind: w.kind, generation: next.generation }, w.message);
    }
    for (const l of this.inbound) l.onCredentials(next);
    this.metrics.identityExpiry.set(Math.floor(next.leaf.notAfter / 1000));
    this.metrics.identityReady.set(1);
    this.expiryWarned = undefined;
    if (prev && needsRecycle(next, prev)) {
      const n = this.recycle((generation) => generation < next.generation, 'identity_rotated', false);
      if (n) this.o.log.info({ event: 'recycle', cause: 'identity_rotated', connections: n, generation: next.generation }, 'connections opened under the previous identity will close after their current request');
    }
  }

  private recycle(pick: (generation: number, peerNotAfter: number | undefined) => boolean, cause: RecycleCause, closeIdleHttp: boolean): number {
    const now = this.clock();
    let n = 0;
    for (const l of this.inbound) {
      const k = l.recycle(pick, closeIdleHttp);
      if (k) this.metrics.recycled.labels('inbound', cause).inc(k);
      n += k;
    }
    for (const l of this.outbound) {
      const k = l.recycle(pick, now);
      if (k) this.metrics.recycled.labels('outbound', cause).inc(k);
      n += k;
    }
    return n;
  }

  /** Once a second: connections whose peer certificate expired, pooled sockets gone stale, identity expiry. */
  private tick(): void {
    const now = this.clock();
    this.recycle((_g, peerNotAfter) => peerNotAfter !== undefined && peerNotAfter <= now, 'peer_expired', true);
    for (const l of this.outbound) {
      const total = l.agentRecycled;
      const seen = this.agentRecycledSeen.get(l) ?? 0;
      if (total > seen) this.metrics.recycled.labels('outbound', 'identity_rotated').inc(total - seen);
      this.agentRecycledSeen.set(l, total);
    }
    const creds = this.store.current;
    if (!creds) return;
    const { notBefore, notAfter } = creds.leaf;
    const left = notAfter - now;
    const threshold = (notAfter - notBefore) * this.o.config.identity.expiryWarningRatio;
    const state = left <= 0 ? 'expired' : left <= threshold ? 'expiring' : undefined;
    if (state && this.expiryWarned !== state) {
      this.expiryWarned = state;
      this.metrics.trustWarnings.labels(state === 'expired' ? 'identity_expired' : 'identity_expiring').inc();
      const msg = state === 'expired' ? 'the identity has expired and no renewal arrived: not ready' : `less than ${Math.round(this.o.config.identity.expiryWarningRatio * 100)}% of the identity's lifetime is left and no renewal arrived`;
      this.o.log[state === 'expired' ? 'error' : 'warn']({ event: `identity_${state}`, spiffeId: creds.spiffeId.toString(), notAfter: new Date(notAfter).toISOString(), secondsLeft: Math.round(left / 1000) }, msg);
    }
  }

  /** SIGTERM: refuse new connections, let in-flight work finish within drainSeconds, close idle keep-alives. */
  async drain(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    const listeners = [...this.inbound, ...this.outbound];
    this.o.log.info({ event: 'draining', drainSeconds: this.o.config.drainSeconds, open: listeners.reduce((n, l) => n + l.tracker.size, 0) }, 'draining');
    for (const l of listeners) {
      l.stopAccepting();
      l.tracker.closeGracefully();
    }
    for (const l of this.outbound) l.closeIdlePeers();
    const deadline = this.o.config.drainSeconds * 1000;
    const all = await Promise.all(listeners.map((l) => l.tracker.waitEmpty(deadline)));
    const cut = listeners.reduce((n, l) => n + l.tracker.size, 0);
    for (const l of listeners) l.tracker.destroyAll();
    for (const l of this.outbound) l.destroyPeers();
    await this.watch?.close();
    clearInterval(this.ticker);
    this.admin.close();
    this.o.log.info({ event: 'stopped', clean: all.every(Boolean), cut }, cut ? `drain deadline reached: closed ${cut} connections` : 'drained');
  }
}

// The certificate controller's loop: three reflectors (namespaces,
// ServiceAccounts, our Certificates) feed one level-triggered reconcile. Any
// change, a resync tick or a backoff expiring marks the state dirty; a single
// runner plans from the whole cache (plan.ts) and applies the actions one by
// one, each key backing off on its own after a failure. Nothing is done until
// every cache has been listed once: a half-filled cache would look like
// ServiceAccounts that vanished.
import { Backoffs, type BackoffPolicy } from './backoff.js';
import type { Clock } from './clock.js';
import { describeApiError, type KubeClients } from './kube-client.js';
import type { ControllerMetrics, Resource } from './metrics.js';
import { plan, type Action, type ControllerPolicy, type Plan } from './plan.js';
import { Reflector, statusCodeOf, type ListWatchClient } from './reflector.js';
import type { Certificate, KubeObject, Namespace, ServiceAccount } from './types.js';

export interface Log {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface ControllerOptions {
  policy: ControllerPolicy;
  clients: KubeClients;
  clock: Clock;
  random: () => number;
  backoff: BackoffPolicy;
  resyncMs: number;
  watchTimeoutSeconds: number;
  log: Log;
  metrics?: ControllerMetrics;
}

export class CertificateController {
  readonly namespaces: Reflector<Namespace>;
  readonly serviceAccounts: Reflector<ServiceAccount>;
  readonly certificates: Reflector<Certificate>;
  private readonly backoffs: Backoffs;
  private dirty = false;
  private runner: Promise<void> | undefined;
  private cancelWake: (() => void) | undefined;
  private cancelResync: (() => void) | undefined;
  private stopped = false;
  private lastSkipped = new Set<string>();
  /** The last plan computed, for tests and the log. */
  lastPlan: Plan | undefined;

  constructor(private readonly o: ControllerOptions) {
    this.backoffs = new Backoffs(o.backoff, o.random);
    this.namespaces = this.reflector('namespaces', o.clients.namespaces);
    this.serviceAccounts = this.reflector('serviceaccounts', o.clients.serviceAccounts);
    this.certificates = this.reflector('certificates', o.clients.certificates);
  }

  get synced(): boolean {
    return this.namespaces.hasSynced && this.serviceAccounts.hasSynced && this.certificates.hasSynced;
  }

  start(): void {
    this.namespaces.start();
    this.serviceAccounts.start();
    this.certificates.start();
    this.scheduleResync();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.cancelWake?.();
    this.cancelResync?.();
    await Promise.all([this.namespaces.stop(), this.serviceAccounts.stop(), this.certificates.stop()]);
    await this.runner;
  }

  /** Mark the state dirty; a reconcile runs unless one is running (then it runs again after). */
  kick(): void {
    if (this.stopped) return;
    this.dirty = true;
    this.runner ??= this.drain();
  }

  /** Resolves once no reconcile is running or pending. */
  async idle(): Promise<void> {
    while (this.runner) await this.runner;
  }

  private reflector<T extends KubeObject>(resource: Resource, client: ListWatchClient<T>): Reflector<T> {
    const { log, metrics } = this.o;
    return new Reflector<T>({
      client,
      clock: this.o.clock,
      random: this.o.random,
      backoff: this.o.backoff,
      watchTimeoutSeconds: this.o.watchTimeoutSeconds,
      hooks: {
        onChange: () => this.kick(),
        onListError: (err, retryInMs) => {
          metrics?.listErrors.labels(resource).inc();
          log.warn({ resource, err: describeApiError(err), retryInMs }, 'list failed');
        },
        onWatchEnd: (how, err) => {
          metrics?.watchEnded(resource, how);
          if (how === 'expired') log.info({ resource }, 'watch expired (410 Gone): listing again');
          else if (how === 'error') log.warn({ resource, err: describeApiError(err) }, 'watch failed: resuming after a backoff');
        },
      },
    });
  }

  private scheduleResync(): void {
    if (this.stopped) return;
    this.cancelResync = this.o.clock.setTimer(this.o.resyncMs, () => {
      this.kick();
      this.scheduleResync();
    });
  }

  private async drain(): Promise<void> {
    try {
      while (this.dirty && !this.stopped) {
        this.dirty = false;
        await this.reconcile();
      }
    } finally {
      this.runner = undefined;
    }
  }

  private async reconcile(): Promise<void> {
    const { metrics, log, clock } = this.o;
    metrics?.synced.set(this.synced ? 1 : 0);
    if (!this.synced) return;
    const p = plan(this.o.policy, {
      namespaces: this.namespaces.values(),
      serviceAccounts: this.serviceAccounts.values(),
      certificates: this.certificates.values(),
    });
    this.lastPlan = p;
    metrics?.reconciles.inc();
    metrics?.desired.set(p.desired);
    metrics?.skipped.set(p.skipped.length);
    this.logSkipped(p);
    this.backoffs.retain(new Set(p.actions.map((a) => a.key)));
    for (const action of p.actions) {
      if (this.stopped) return;
      if (this.backoffs.waiting(action.key, clock.now())) continue;
      try {
        await this.apply(action);
        this.backoffs.succeed(action.key);
        metrics?.actions.labels(action.kind, 'ok').inc();
        log.info({ action: action.kind, certificate: action.key, reason: action.reason }, `certificate ${action.kind}d`);
      } catch (err) {
        const retryInMs = this.backoffs.fail(action.key, clock.now());
        metrics?.actions.labels(action.kind, 'error').inc();
        log.warn({ action: action.kind, certificate: action.key, err: explain(action, err), retryInMs }, `certificate ${action.kind} failed`);
      }
    }
    metrics?.managed.set(this.certificates.values().length);
    this.scheduleWake();
  }

  private async apply(action: Action): Promise<void> {
    const { writer } = this.o.clients;
    try {
      if (action.kind === 'create') this.certificates.upsert(await writer.create(action.certificate));
      else if (action.kind === 'update') this.certificates.upsert(await writer.replace(action.certificate));
      else {
        await writer.delete(action.namespace, action.name);
        this.certificates.remove(action.key);
      }
    } catch (err) {
      // Already gone (the garbage collector can be faster than us): done, or
      // for an update, plan again from a cache without it.
      if (statusCodeOf(err) === 404 && action.kind !== 'create') {
        this.certificates.remove(action.key);
        if (action.kind === 'update') this.dirty = true;
        return;
      }
      throw err;
    }
  }

  private scheduleWake(): void {
    this.cancelWake?.();
    this.cancelWake = undefined;
    const next = this.backoffs.nextRetry();
    if (next === undefined || this.stopped) return;
    this.cancelWake = this.o.clock.setTimer(Math.max(0, next - this.o.clock.now()), () => this.kick());
  }

  private logSkipped(p: Plan): void {
    const now = new Set(p.skipped.map((s) => `${s.key}: ${s.reason}`));
    for (const s of p.skipped) {
      if (!this.lastSkipped.has(`${s.key}: ${s.reason}`)) this.o.log.warn({ serviceAccount: s.key, reason: s.reason }, 'service account skipped');
    }
    this.lastSkipped = now;
  }
}

function explain(action: Action, err: unknown): string {
  const text = describeApiError(err);
  if (action.kind === 'create' && statusCodeOf(err) === 409) {
    return `${text} (a Certificate of that name exists without the app.kubernetes.io/managed-by=tlsmesh-controller label: rename or delete it)`;
  }
  return text;
}

// Wiring for the certificate controller's tests: a fake API server, a
// KubeConfig pointing at it, builders for the objects, a log that records.
import * as k8s from '@kubernetes/client-node';
import { Registry } from 'prom-client';
import { CertificateController, type Log } from '../../injector/src/controller/controller.js';
import type { Clock, ManualClock } from '../../injector/src/controller/clock.js';
import { systemClock } from '../../injector/src/controller/clock.js';
import { kubeClients } from '../../injector/src/controller/kube-client.js';
import { ControllerMetrics } from '../../injector/src/controller/metrics.js';
import type { ControllerPolicy } from '../../injector/src/controller/plan.js';
import { FakeApiServer, type Obj } from './fake-apiserver.js';

export const POLICY: ControllerPolicy = {
  trustDomain: 'cluster.local',
  secretNameTemplate: 'tlsmesh-svid-{serviceAccount}',
  issuerRef: { name: 'tlsmesh-ca', kind: 'ClusterIssuer', group: 'cert-manager.io' },
  duration: '24h0m0s',
  renewBefore: '8h0m0s',
  ignoredNamespaces: ['kube-system'],
  issueCertificates: true,
};

export function kubeConfigFor(fake: FakeApiServer): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'fake', server: fake.url, skipTLSVerify: true }],
    users: [{ name: 'test' }],
    contexts: [{ name: 'fake', cluster: 'fake', user: 'test' }],
    currentContext: 'fake',
  });
  return kc;
}

export function namespace(name: string, labels: Record<string, string> = { 'tlsmesh.io/inject': 'enabled' }): Obj {
  return { metadata: { name, labels } };
}

export function serviceAccount(ns: string, name: string): Obj {
  return { metadata: { name, namespace: ns } };
}

export interface Entry {
  level: 'info' | 'warn' | 'error';
  msg: string;
  obj: Record<string, unknown>;
}

export class RecordingLog implements Log {
  readonly entries: Entry[] = [];
  info(obj: object, msg: string): void {
    this.entries.push({ level: 'info', msg, obj: obj as Record<string, unknown> });
  }
  warn(obj: object, msg: string): void {
    this.entries.push({ level: 'warn', msg, obj: obj as Record<string, unknown> });
  }
  error(obj: object, msg: string): void {
    this.entries.push({ level: 'error', msg, obj: obj as Record<string, unknown> });
  }
}

export interface Harness {
  controller: CertificateController;
  log: RecordingLog;
  registry: Registry;
}

export function startController(fake: FakeApiServer, opts: { policy?: ControllerPolicy; clock?: Clock; random?: () => number; initialMs?: number } = {}): Harness {
  const log = new RecordingLog();
  const registry = new Registry();
  const controller = new CertificateController({
    policy: opts.policy ?? POLICY,
    clients: kubeClients(k8s, kubeConfigFor(fake)),
    clock: opts.clock ?? systemClock,
    random: opts.random ?? (() => 0.5),
    backoff: { initialMs: opts.initialMs ?? 20, maxMs: 10_000, jitter: 0.2 },
    resyncMs: 3_600_000,
    watchTimeoutSeconds: 300,
    log,
    metrics: new ControllerMetrics(registry),
  });
  controller.start();
  return { controller, log, registry };
}

/** Poll `check` until it returns a value other than undefined/false, or fail after `ms`. */
export async function eventually<T>(check: () => T | undefined | false | Promise<T | undefined | false>, what: string, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/**
 * Drive a ManualClock until `check` holds: let I/O run, and when nothing is
 * left to wait for but timers, jump to the next one. Fails after `ms` of real time.
 */
export async function advanceUntil<T>(clock: ManualClock, check: () => T | undefined | false, what: string, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    for (let i = 0; i < 20; i++) {
      const v = check();
      if (v !== undefined && v !== false) return v;
      await new Promise((r) => setImmediate(r));
    }
    const next = clock.pending()[0];
    if (next !== undefined) clock.advance(next);
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
  }
}

/** The value of one counter or gauge sample in the registry, 0 when absent. */
export async function metricValue(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = registry.getSingleMetric(name);
  if (!m) return 0;
  const { values } = await m.get();
  const hit = values.find((v) => Object.entries(labels).every(([k, x]) => String((v.labels as Record<string, unknown>)[k]) === x));
  return hit?.value ?? 0;
}

/** Write requests (create, update, delete) the fake has answered so far. */
export function writes(fake: FakeApiServer): string[] {
  return fake.requests.filter((r) => r.method !== 'GET').map((r) => `${r.method} ${r.path} ${r.status}`);
}

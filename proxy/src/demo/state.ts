// What the demo knows at any moment, and the pure steps that update it from
// what it observed (the sidecars' /certs and /metrics, the renewers' output,
// the frontend app's counters, the attacker's tries). The view and the
// summary only read this.
import { REFUSAL_REASONS, type RefusalReason } from '../identity/peer-check.js';
import { sum, type Sample } from './prom-text.js';
import { SPIFFE_IDS, WORKLOADS, type Workload } from './topology.js';

export const COMPONENTS = ['ca', 'frontend app', 'frontend sidecar', 'backend sidecar', 'backend app', 'renewers'] as const;
export type Component = (typeof COMPONENTS)[number];
export type ComponentState = 'starting' | 'up' | 'exited';

/** In the order the attacker tries them (a pin mismatch also shows as a `protocol` on the backend, see docs/demo.md). */
export const ATTACKS = ['untrusted', 'pin_mismatch', 'identity_denied', 'protocol'] as const satisfies readonly RefusalReason[];
export type AttackKind = (typeof ATTACKS)[number];
export const isAttack = (reason: string): reason is AttackKind => (ATTACKS as readonly string[]).includes(reason);

export interface IdentityState {
  spiffeId: string;
  ttlMs: number;
  /** What the sidecar serves now (its /certs). */
  serial?: string;
  notBefore?: number;
  notAfter?: number;
  rotations: number;
  /** Certificates the renewer wrote, newest last (serial -> when the demo read its line). */
  issued: { serial: string; at: number }[];
  /** Issue-to-in-use delays of the rotations seen, in ms (bounded by the poll interval). */
  pickupMs: number[];
}

export interface AttackOutcome {
  kind: AttackKind;
  at: number;
  /** Refused, and the expected sidecar counted the expected reason. */
  ok: boolean;
  /** What happened, in a few words (`refused by the backend sidecar: untrusted`). */
  detail: string;
}

export interface Failure {
  at: string;
  what: string;
}

/** The frontend app's counters, as its /stats and /stop answer them. */
export interface TrafficStats {
  ok: number;
  failed: number;
  failures: Failure[];
}

/** The part of a sidecar's /certs the demo reads. */
export interface ServedCert {
  serialNumber: string;
  notBefore: string;
  notAfter: string;
}

export interface Event {
  seq: number;
  at: number;
  level: 'info' | 'good' | 'bad';
  text: string;
}

export interface DemoState {
  startedAt: number;
  upAt?: number;
  now: number;
  components: Record<Component, ComponentState>;
  traffic: { ok: number; failed: number; failures: Failure[]; history: { at: number; ok: number }[] };
  identities: Record<Workload, IdentityState>;
  /** The samples of WATCHED_METRICS from each sidecar's /metrics, as last read. */
  metrics: Record<Workload, Sample[]>;
  attacks: Record<AttackKind, { tries: number; refused: number; outcomes: AttackOutcome[] }>;
  events: Event[];
  eventSeq: number;
  /** Problems that make the run fail (besides failed requests). */
  problems: string[];
}

export function initialState(now: number, ttlMs: Record<Workload, number>): DemoState {
  const identity = (w: Workload): IdentityState => ({ spiffeId: SPIFFE_IDS[w], ttlMs: ttlMs[w], rotations: 0, issued: [], pickupMs: [] });
  return {
    startedAt: now,
    now,
    components: Object.fromEntries(COMPONENTS.map((c) => [c, 'starting'])) as Record<Component, ComponentState>,
    traffic: { ok: 0, failed: 0, failures: [], history: [] },
    identities: { frontend: identity('frontend'), backend: identity('backend') },
    metrics: { frontend: [], backend: [] },
    attacks: Object.fromEntries(ATTACKS.map((k) => [k, { tries: 0, refused: 0, outcomes: [] as AttackOutcome[] }])) as DemoState['attacks'],
    events: [],
    eventSeq: 0,
    problems: [],
  };
}

const MAX_EVENTS = 200;

export function addEvent(s: DemoState, level: Event['level'], text: string): Event {
  s.eventSeq += 1;
  const e = { seq: s.eventSeq, at: s.now, level, text };
  s.events.push(e);
  if (s.events.length > MAX_EVENTS) s.events.shift();
  return e;
}

const READY_TEXT: Partial<Record<Component, string>> = {
  'frontend sidecar': 'frontend sidecar ready: identity loaded, outbound listeners up',
  'backend sidecar': 'backend sidecar ready: identity loaded, mTLS listener up',
  'frontend app': 'frontend app up',
  'backend app': 'backend app up',
};

/** The first sign of life of a component: it is up, said once. */
export function markUp(s: DemoState, c: Component): void {
  if (s.components[c] !== 'starting') return;
  s.components[c] = 'up';
  const text = READY_TEXT[c];
  if (text) addEvent(s, 'info', text);
}

export const short = (serial: string | undefined) => (serial ? serial.slice(0, 8) : '-');

/** A renewer wrote a new certificate (its `issued ... serial S notAfter T` line). */
export function certificateIssued(s: DemoState, w: Workload, serial: string): void {
  const id = s.identities[w];
  id.issued.push({ serial, at: s.now });
  if (id.issued.length > 50) id.issued.shift();
  if (id.issued.length > 1) addEvent(s, 'info', `issuer: new ${w} certificate ${short(serial)} written (new key, kubelet-style ..data swap)`);
}

/** The sidecar's /certs answered: count a rotation when the serial in use changed. */
export function certsSeen(s: DemoState, w: Workload, certs: ServedCert): void {
  const id = s.identities[w];
  const before = id.serial;
  id.serial = certs.serialNumber;
  id.notBefore = Date.parse(certs.notBefore);
  id.notAfter = Date.parse(certs.notAfter);
  if (before === undefined || before === id.serial) return;
  id.rotations += 1;
  const issued = id.issued.find((i) => i.serial === id.serial);
  const pickup = issued ? Math.max(0, s.now - issued.at) : undefined;
  if (pickup !== undefined) id.pickupMs.push(pickup);
  const within = pickup === undefined ? '' : `, in use ${(pickup / 1000).toFixed(1)}s after it was written`;
  addEvent(s, 'good', `${w} sidecar rotated ${short(before)} -> ${short(id.serial)}${within}; failed requests so far: ${s.traffic.failed}`);
}

export const WATCHED_METRICS = new Set(['tlsmesh_handshakes_total', 'tlsmesh_connections_active', 'tlsmesh_connections_recycled_total']);

export function metricsSeen(s: DemoState, w: Workload, samples: Sample[]): void {
  s.metrics[w] = samples;
}

/** The mTLS hop between the two sidecars, as the backend counts it (inbound), and recycling on both sides by cause. */
export function meshConnections(s: DemoState): { open: number; handshakes: number; recycled: number; byCause: Record<string, number> } {
  const b = s.metrics.backend;
  const byCause: Record<string, number> = {};
  for (const w of WORKLOADS) {
    for (const x of s.metrics[w]) {
      if (x.name !== 'tlsmesh_connections_recycled_total' || x.value === 0) continue;
      const cause = x.labels.cause ?? '';
      byCause[cause] = (byCause[cause] ?? 0) + x.value;
    }
  }
  return {
    open: sum(b, 'tlsmesh_connections_active', { direction: 'inbound' }),
    handshakes: sum(b, 'tlsmesh_handshakes_total', { direction: 'inbound', result: 'ok' }),
    recycled: Object.values(byCause).reduce((a, n) => a + n, 0),
    byCause,
  };
}

/** The frontend app's counters; new failures become events. */
export function trafficSeen(s: DemoState, t: TrafficStats): void {
  const fresh = t.failed - s.traffic.failed;
  if (fresh > 0) {
    const last = t.failures[t.failures.length - 1];
    addEvent(s, 'bad', `${fresh} legitimate request${fresh > 1 ? 's' : ''} FAILED${last ? `: ${last.what}` : ''}`);
  }
  s.traffic.ok = t.ok;
  s.traffic.failed = t.failed;
  s.traffic.failures = t.failures;
  s.traffic.history.push({ at: s.now, ok: t.ok });
  while (s.traffic.history.length > 2 && s.now - s.traffic.history[0]!.at > 5000) s.traffic.history.shift();
}

/** Requests per second over the last few seconds. */
export function rate(s: DemoState): number {
  const h = s.traffic.history;
  if (h.length < 2) return 0;
  const a = h[0]!;
  const b = h[h.length - 1]!;
  return b.at > a.at ? ((b.ok - a.ok) * 1000) / (b.at - a.at) : 0;
}

export function attackSeen(s: DemoState, o: AttackOutcome): void {
  const a = s.attacks[o.kind];
  a.tries += 1;
  if (o.ok) a.refused += 1;
  a.outcomes.push(o);
  if (a.outcomes.length > 20) a.outcomes.shift();
  addEvent(s, o.ok ? 'good' : 'bad', `attacker: ${o.kind.padEnd(15)} ${o.detail}`);
  if (!o.ok) s.problems.push(`attack ${o.kind}: ${o.detail}`);
}

/** The attacker's tries so far, and how many of them were refused with the expected reason. */
export function attackTotals(s: DemoState): { tries: number; refused: number } {
  return { tries: ATTACKS.reduce((t, k) => t + s.attacks[k].tries, 0), refused: ATTACKS.reduce((t, k) => t + s.attacks[k].refused, 0) };
}

/** Refusals by reason, summed over both sidecars, with who counted them. */
export function refusals(s: DemoState): { reason: string; count: number; where: string[] }[] {
  return REFUSAL_REASONS.map((reason) => {
    const where: string[] = [];
    let count = 0;
    for (const w of WORKLOADS) {
      for (const direction of ['inbound', 'outbound']) {
        const n = sum(s.metrics[w], 'tlsmesh_handshakes_total', { direction, result: 'error', reason });
        if (n > 0) where.push(`${w} ${direction} ${n}`);
        count += n;
      }
    }
    return { reason, count, where };
  });
}

/** Exit status: 0 only when no legitimate request failed and nothing else went wrong. */
export function verdict(s: DemoState): { pass: boolean; why: string[] } {
  const why = [...s.problems];
  if (s.traffic.failed > 0) why.unshift(`${s.traffic.failed} legitimate request${s.traffic.failed > 1 ? 's' : ''} failed`);
  return { pass: why.length === 0, why };
}

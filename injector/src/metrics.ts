// The webhook's metrics, declared once, on a registry the caller owns (never
// prom-client's global). Label values are bounded enums.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { AdmissionErrorReason } from './errors.js';
import type { SkipReason } from './policy.js';

export type Outcome = 'injected' | 'skipped' | 'ignored' | 'denied';
export type ErrorReason = AdmissionErrorReason | 'inject_error' | 'internal';

const OUTCOMES: Outcome[] = ['injected', 'skipped', 'ignored', 'denied'];
const SKIPS: SkipReason[] = ['ignored_namespace', 'host_network', 'already_injected', 'pod_opt_out', 'namespace_disabled', 'not_opted_in'];
const ERRORS: ErrorReason[] = ['too_large', 'unsupported_media_type', 'bad_json', 'not_admission_review', 'missing_field', 'bad_method', 'not_found', 'inject_error', 'internal'];

export interface InjectorMetrics {
  registry: Registry;
  reviews: Counter<'outcome' | 'dry_run'>;
  patches: Counter<string>;
  skipped: Counter<'reason'>;
  errors: Counter<'reason'>;
  duration: Histogram<string>;
  tlsReloads: Counter<'result'>;
  tlsExpiry: Gauge<string>;
}

export function createMetrics(registry = new Registry()): InjectorMetrics {
  const m: InjectorMetrics = {
    registry,
    reviews: new Counter({
      name: 'tlsmesh_injector_reviews_total',
      help: 'AdmissionReviews answered, by outcome (injected, skipped by policy, ignored kind or operation, denied for bad annotations)',
      labelNames: ['outcome', 'dry_run'],
      registers: [registry],
    }),
    patches: new Counter({ name: 'tlsmesh_injector_patches_total', help: 'JSON Patches sent (one per injected pod)', registers: [registry] }),
    skipped: new Counter({ name: 'tlsmesh_injector_skipped_total', help: 'Pods not injected, by policy reason', labelNames: ['reason'], registers: [registry] }),
    errors: new Counter({ name: 'tlsmesh_injector_errors_total', help: 'Requests refused or failed, by reason', labelNames: ['reason'], registers: [registry] }),
    duration: new Histogram({
      name: 'tlsmesh_injector_review_duration_seconds',
      help: 'Time from the request body read to the answer written',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers: [registry],
    }),
    tlsReloads: new Counter({ name: 'tlsmesh_injector_tls_reloads_total', help: 'Serving certificate reloads, by result', labelNames: ['result'], registers: [registry] }),
    tlsExpiry: new Gauge({ name: 'tlsmesh_injector_tls_expiry_timestamp_seconds', help: 'notAfter of the serving certificate in use', registers: [registry] }),
  };
  for (const outcome of OUTCOMES) for (const dry of ['false', 'true']) m.reviews.inc({ outcome, dry_run: dry }, 0);
  for (const reason of SKIPS) m.skipped.inc({ reason }, 0);
  for (const reason of ERRORS) m.errors.inc({ reason }, 0);
  for (const result of ['ok', 'error']) m.tlsReloads.inc({ result }, 0);
  return m;
}

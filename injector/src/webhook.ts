// The webhook's decision, without HTTP: an AdmissionReview body in, the answer
// out. server.ts is the thin shell around it (TLS, routes, limits, timing).
import type { InjectorConfig } from './config.js';
import { InjectError } from './errors.js';
import { describeObject, type ObjectMeta, type PodLike } from './k8s.js';
import type { InjectorMetrics, Outcome } from './metrics.js';
import { NAMESPACE_LABEL } from './names.js';
import { createPatch } from './patch.js';
import { shouldInject } from './policy.js';
import { decodeReview, encodeResponse, type AdmissionAnswer } from './review.js';
import { injectPod } from './sidecar.js';

/**
 * How the API server reached us. `namespace`: the webhook configuration's
 * namespaceSelector matched tlsmesh.io/inject=enabled (POST /inject).
 * `opt-in`: the namespace is not labelled, only pods annotated
 * tlsmesh.io/inject: "true" are injected (POST /inject/opt-in).
 */
export type Scope = 'namespace' | 'opt-in';

export interface ReviewResult {
  body: string;
  outcome: Outcome;
  /** For the log line. */
  detail: string;
}

/** Decodes, decides, answers. Throws AdmissionError for a body that is not a usable AdmissionReview. */
export function answerReview(body: Buffer, scope: Scope, cfg: InjectorConfig, metrics?: InjectorMetrics): ReviewResult {
  const req = decodeReview(body);
  const finish = (outcome: Outcome, answer: AdmissionAnswer, detail: string): ReviewResult => {
    metrics?.reviews.inc({ outcome, dry_run: String(req.dryRun) });
    return { body: encodeResponse(req.uid, answer), outcome, detail };
  };
  const isPod = req.kind.kind === 'Pod' && req.kind.group === '' && (req.resource?.resource ?? 'pods') === 'pods';
  if (!isPod || req.subResource || req.operation !== 'CREATE' || !req.object) {
    return finish('ignored', { allowed: true }, `${req.operation} ${req.kind.kind}${req.subResource ? `/${req.subResource}` : ''}: not a pod creation`);
  }
  const pod = req.object as PodLike;
  const meta = pod.metadata as ObjectMeta | undefined;
  const name = describeObject('Pod', meta);
  const namespace = req.namespace ?? meta?.namespace ?? 'default';
  const labels: Record<string, string> = scope === 'namespace' ? { [NAMESPACE_LABEL]: 'enabled' } : {};
  try {
    const decision = shouldInject(pod, { name: namespace, labels }, cfg);
    if (!decision.inject) {
      metrics?.skipped.inc({ reason: decision.reason });
      return finish('skipped', { allowed: true }, `${namespace}/${name}: skipped: ${decision.detail}`);
    }
    const injected = injectPod(pod, { config: cfg, namespace });
    const patch = createPatch(pod, injected.pod);
    metrics?.patches.inc();
    return finish('injected', { allowed: true, patch, warnings: injected.warnings.map((w) => `tlsmesh: ${w}`) }, `${namespace}/${name}: injected`);
  } catch (err) {
    if (!(err instanceof InjectError)) throw err;
    metrics?.errors.inc({ reason: 'inject_error' });
    const message = `tlsmesh injector: ${namespace}/${name}: ${err.problems.join('; ')}`;
    return finish('denied', { allowed: false, code: 400, message }, message);
  }
}

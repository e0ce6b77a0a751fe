// Where pods live in Kubernetes objects: a Pod itself, the pod template of a
// workload, a CronJob's job template, the items of a List. injectObject runs
// the policy and the injection function on each pod it finds.
import type { InjectorConfig } from './config.js';
import { InjectError } from './errors.js';
import { describeObject, isObject, type ObjectMeta, type PodLike } from './k8s.js';
import { shouldInject, type Decision, type NamespaceInfo } from './policy.js';
import { injectPod } from './sidecar.js';

/** Kinds whose pod template sits at spec.template. */
const TEMPLATE_KINDS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'ReplicationController', 'Job']);

export interface PodReport {
  /** `Deployment/web`, or `List/items[2] Pod/x`. */
  object: string;
  decision: Decision;
  warnings: string[];
}

export interface ObjectResult {
  object: unknown;
  reports: PodReport[];
}

/**
 * The injected copy of `obj` (or `obj` itself when it holds no pod to inject).
 * `labels` is what is known of the namespace's labels (offline: enabled).
 */
export function injectObject(obj: unknown, cfg: InjectorConfig, labels: Readonly<Record<string, string>>, where = ''): ObjectResult {
  if (!isObject(obj)) return { object: obj, reports: [] };
  const kind = typeof obj.kind === 'string' ? obj.kind : '';
  const meta = isObject(obj.metadata) ? (obj.metadata as ObjectMeta) : undefined;
  const name = `${where}${describeObject(kind || 'Object', meta)}`;
  if (kind.endsWith('List') && Array.isArray(obj.items)) {
    const reports: PodReport[] = [];
    let items: unknown[] | undefined;
    obj.items.forEach((item, i) => {
      const r = injectObject(item, cfg, labels, `${where}${kind}.items[${i}] `);
      reports.push(...r.reports);
      if (r.object !== item) (items ??= [...(obj.items as unknown[])])[i] = r.object;
    });
    return { object: items ? { ...obj, items } : obj, reports };
  }
  const path = templatePath(kind);
  if (!path) return { object: obj, reports: [] };
  const template = path.reduce<unknown>((o, k) => (isObject(o) ? o[k] : undefined), obj);
  if (!isObject(template)) return { object: obj, reports: [] };
  const ns: NamespaceInfo = { name: meta?.namespace ?? (template.metadata as ObjectMeta | undefined)?.namespace ?? 'default', labels };
  const pod = template as PodLike;
  let decision: Decision;
  try {
    decision = shouldInject(pod, ns, cfg);
  } catch (err) {
    throw withObject(err, name);
  }
  if (!decision.inject) return { object: obj, reports: [{ object: name, decision, warnings: [] }] };
  let injected;
  try {
    injected = injectPod(pod, { config: cfg, namespace: ns.name });
  } catch (err) {
    throw withObject(err, name);
  }
  const out = path.length ? setIn(obj, path, injected.pod) : injected.pod;
  return { object: out, reports: [{ object: name, decision, warnings: injected.warnings }] };
}

function templatePath(kind: string): string[] | undefined {
  if (kind === 'Pod') return [];
  if (TEMPLATE_KINDS.has(kind)) return ['spec', 'template'];
  if (kind === 'CronJob') return ['spec', 'jobTemplate', 'spec', 'template'];
  return undefined;
}

/** A copy of `obj` with `value` at `path`, copying only the objects along the path. */
function setIn(obj: Record<string, unknown>, path: string[], value: unknown): Record<string, unknown> {
  if (path.length === 0) return value as Record<string, unknown>;
  const [head, ...rest] = path as [string, ...string[]];
  return { ...obj, [head]: setIn(obj[head] as Record<string, unknown>, rest, value) };
}

function withObject(err: unknown, name: string): unknown {
  if (err instanceof InjectError) return new InjectError(err.problems.map((p) => `${name}: ${p}`), { cause: err });
  return err;
}

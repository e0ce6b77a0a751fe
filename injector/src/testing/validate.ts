// Validate any object of a kind we inject (and the ones around them in
// manifests) against the Kubernetes OpenAPI schema, using kubernetes-models.
import { Pod, Service, ConfigMap, Secret } from 'kubernetes-models/v1';
import { Deployment, StatefulSet, DaemonSet, ReplicaSet } from 'kubernetes-models/apps/v1';
import { Job, CronJob } from 'kubernetes-models/batch/v1';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const MODELS: Record<string, new (data: any) => { validate(): void }> = {
  'v1/Pod': Pod,
  'v1/Service': Service,
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'apps/v1/Deployment': Deployment,
  'apps/v1/StatefulSet': StatefulSet,
  'apps/v1/DaemonSet': DaemonSet,
  'apps/v1/ReplicaSet': ReplicaSet,
  'batch/v1/Job': Job,
  'batch/v1/CronJob': CronJob,
};

/** Schema errors of `obj`, empty when valid. */
export function validateObject(obj: unknown): string[] {
  const o = obj as { apiVersion?: string; kind?: string; items?: unknown[] };
  const key = `${o.apiVersion}/${o.kind}`;
  // A List is not a stored kind (kubectl's wrapper): validate its items.
  if (o.kind === 'List') return Array.isArray(o.items) ? o.items.flatMap(validateObject) : ['List: items: expected a list'];
  const Model = MODELS[key];
  if (!Model) return [`no model for ${key}`];
  const errors: string[] = [];
  try {
    new Model(obj).validate();
  } catch (err) {
    errors.push(`${key}: ${(err as Error).message}`);
  }
  return errors;
}

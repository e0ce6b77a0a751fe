// Loose views of the Kubernetes objects the injector reads. Input comes from
// users (offline) or the API server (webhook): fields are read defensively, and
// everything not named here passes through untouched.
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  [key: string]: unknown;
}

export interface ContainerPort {
  name?: string;
  containerPort?: number;
  [key: string]: unknown;
}

export interface Probe {
  httpGet?: { path?: string; port?: number | string; host?: string; scheme?: string; httpHeaders?: { name: string; value: string }[]; [key: string]: unknown };
  tcpSocket?: { port?: number | string; host?: string; [key: string]: unknown };
  grpc?: { port?: number; service?: string; [key: string]: unknown };
  timeoutSeconds?: number;
  [key: string]: unknown;
}

export interface Container {
  name: string;
  ports?: ContainerPort[];
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  startupProbe?: Probe;
  restartPolicy?: string;
  [key: string]: unknown;
}

export interface PodSpec {
  containers: Container[];
  initContainers?: Container[];
  volumes?: { name: string; [key: string]: unknown }[];
  hostNetwork?: boolean;
  serviceAccountName?: string;
  serviceAccount?: string;
  [key: string]: unknown;
}

/** A Pod, or the pod template of a workload (metadata + spec). */
export interface PodLike {
  metadata?: ObjectMeta;
  spec?: PodSpec;
  [key: string]: unknown;
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function serviceAccountOf(pod: PodLike): string {
  return pod.spec?.serviceAccountName || pod.spec?.serviceAccount || 'default';
}

/** `Deployment/web`, `Pod/(generateName web-)`: how messages name a workload. */
export function describeObject(kind: string, meta: ObjectMeta | undefined): string {
  const name = meta?.name ?? (meta?.generateName ? `${meta.generateName}*` : '(unnamed)');
  return `${kind}/${name}`;
}

// Builders for tests: pods and AdmissionReviews from a few named fields.
import type { Container, PodLike } from '../k8s.js';

export interface PodOptions {
  name?: string;
  namespace?: string;
  annotations?: Record<string, string>;
  labels?: Record<string, string>;
  containers?: Container[];
  initContainers?: Container[];
  serviceAccountName?: string;
  hostNetwork?: boolean;
  volumes?: { name: string; [k: string]: unknown }[];
}

export function container(name: string, extra: Partial<Container> = {}): Container {
  return { name, image: `example.com/${name}:1.0`, ...extra };
}

export function pod(o: PodOptions = {}): PodLike {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: o.name ?? 'web-0',
      ...(o.namespace ? { namespace: o.namespace } : {}),
      ...(o.labels ? { labels: o.labels } : {}),
      ...(o.annotations ? { annotations: o.annotations } : {}),
    },
    spec: {
      ...(o.serviceAccountName ? { serviceAccountName: o.serviceAccountName } : {}),
      ...(o.hostNetwork !== undefined ? { hostNetwork: o.hostNetwork } : {}),
      ...(o.initContainers ? { initContainers: o.initContainers } : {}),
      containers: o.containers ?? [container('app', { ports: [{ name: 'http', containerPort: 8080 }] })],
      ...(o.volumes ? { volumes: o.volumes } : {}),
    },
  };
}

export interface ReviewOptions {
  uid?: string;
  namespace?: string;
  operation?: string;
  dryRun?: boolean;
  kind?: { group: string; version: string; kind: string };
  resource?: { group: string; version: string; resource: string };
}

export function admissionReview(object: unknown, o: ReviewOptions = {}): Record<string, unknown> {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: o.uid ?? '705ab4f5-6393-11e8-b7cc-42010a800002',
      kind: o.kind ?? { group: '', version: 'v1', kind: 'Pod' },
      resource: o.resource ?? { group: '', version: 'v1', resource: 'pods' },
      requestKind: o.kind ?? { group: '', version: 'v1', kind: 'Pod' },
      namespace: o.namespace ?? 'default',
      operation: o.operation ?? 'CREATE',
      userInfo: { username: 'system:serviceaccount:kube-system:replicaset-controller', groups: ['system:serviceaccounts'] },
      object,
      oldObject: null,
      dryRun: o.dryRun ?? false,
      options: { apiVersion: 'meta.k8s.io/v1', kind: 'CreateOptions' },
    },
  };
}

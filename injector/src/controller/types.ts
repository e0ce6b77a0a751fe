// The few fields of Kubernetes objects the certificate controller reads. Objects
// come from the API as JSON; these types name what we rely on and nothing more.

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
  deletionTimestamp?: string | Date;
}

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
}

export type Namespace = KubeObject;
export type ServiceAccount = KubeObject;

export interface Certificate extends KubeObject {
  spec: CertificateSpec;
  status?: unknown;
}

/** The part of cert-manager's Certificate spec the controller writes (cert-manager.io/v1). */
export interface CertificateSpec {
  secretName: string;
  secretTemplate?: { labels?: Record<string, string>; annotations?: Record<string, string> };
  uris: string[];
  duration: string;
  renewBefore: string;
  usages: string[];
  privateKey: { algorithm: 'ECDSA'; size: 256; encoding: 'PKCS8'; rotationPolicy: 'Always' };
  issuerRef: { name: string; kind: string; group: string };
  revisionHistoryLimit: number;
  [more: string]: unknown;
}

/** `namespace/name`, or `name` for cluster-scoped objects: the key of every cache. */
export function keyOf(meta: Pick<ObjectMeta, 'name' | 'namespace'>): string {
  return meta.namespace ? `${meta.namespace}/${meta.name}` : meta.name;
}

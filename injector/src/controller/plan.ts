// The reconcile core: what the cluster holds -> the Certificate writes that make
// it what the policy wants. Pure and total: no I/O, no clock; every action and
// every skipped ServiceAccount carries a reason for the log.
import { desiredCertificate, type CertificatePolicy } from './certificate.js';
import { INJECT_ANNOTATION, INJECT_DISABLED, INJECT_ENABLED, INJECT_LABEL, SERVICE_ACCOUNT_ANNOTATION } from './names.js';
import { keyOf, type Certificate, type KubeObject, type Namespace, type ServiceAccount } from './types.js';

export interface ControllerPolicy extends CertificatePolicy {
  /** Namespaces never served, whatever their label says (the webhook skips them too). */
  ignoredNamespaces: readonly string[];
  /** False when identity comes from csi-driver-spiffe: no Certificates then. */
  issueCertificates: boolean;
}

export interface Observed {
  namespaces: Iterable<Namespace>;
  serviceAccounts: Iterable<ServiceAccount>;
  /** Only the Certificates carrying the managed-by label: the controller's own. */
  certificates: Iterable<Certificate>;
}

export type Action =
  | { kind: 'create'; key: string; certificate: Certificate; reason: string }
  | { kind: 'update'; key: string; certificate: Certificate; reason: string }
  | { kind: 'delete'; key: string; namespace: string; name: string; reason: string };

export interface Plan {
  actions: Action[];
  /** ServiceAccounts that should have a Certificate but cannot (bad name, name clash). */
  skipped: { key: string; reason: string }[];
  /** How many Certificates the controller wants to exist. */
  desired: number;
}

const terminating = (o: KubeObject) => o.metadata.deletionTimestamp !== undefined && o.metadata.deletionTimestamp !== null;

/**
 * Which ServiceAccounts get a Certificate: every one of a namespace labelled
 * `tlsmesh.io/inject=enabled`; in a namespace with no such label, those
 * annotated `tlsmesh.io/inject: "true"` (whose pods are opted in one by one);
 * never in an ignored, disabled or terminating namespace. The same order as the
 * injector's own checks.
 */
export function wantsCertificate(policy: ControllerPolicy, ns: Namespace | undefined, sa: ServiceAccount): boolean {
  if (!ns || terminating(ns) || terminating(sa) || policy.ignoredNamespaces.includes(ns.metadata.name)) return false;
  const label = ns.metadata.labels?.[INJECT_LABEL];
  if (label === INJECT_ENABLED) return true;
  if (label === INJECT_DISABLED) return false;
  return sa.metadata.annotations?.[INJECT_ANNOTATION] === 'true';
}

export function plan(policy: ControllerPolicy, observed: Observed): Plan {
  const namespaces = new Map([...observed.namespaces].map((n) => [n.metadata.name, n]));
  const desired = new Map<string, Certificate>();
  const skipped: Plan['skipped'] = [];
  const claimedBy = new Map<string, string>();
  const serviceAccounts = new Map<string, ServiceAccount>();

  for (const sa of observed.serviceAccounts) {
    if (terminating(sa)) continue;
    serviceAccounts.set(keyOf(sa.metadata), sa);
    if (!policy.issueCertificates || !wantsCertificate(policy, namespaces.get(sa.metadata.namespace ?? ''), sa)) continue;
    const want = desiredCertificate(policy, sa);
    if ('problem' in want) {
      skipped.push({ key: keyOf(sa.metadata), reason: want.problem });
      continue;
    }
    const key = keyOf(want.certificate.metadata);
    const other = claimedBy.get(key);
    if (other !== undefined) {
      skipped.push({ key: keyOf(sa.metadata), reason: `certificate ${key} is already the one of service account ${other}` });
      continue;
    }
    claimedBy.set(key, keyOf(sa.metadata));
    desired.set(key, want.certificate);
  }

  const actions: Action[] = [];
  const actual = new Map([...observed.certificates].map((c) => [keyOf(c.metadata), c]));
  for (const [key, current] of actual) {
    const ns = current.metadata.namespace ?? '';
    const want = desired.get(key);
    if (want) {
      const differs = difference(want, current);
      if (differs) actions.push({ kind: 'update', key, certificate: merged(want, current), reason: differs });
      continue;
    }
    // The namespace is going away with everything in it: nothing to do.
    if (terminating(current) || (namespaces.has(ns) && terminating(namespaces.get(ns)!))) continue;
    actions.push({ kind: 'delete', key, namespace: ns, name: current.metadata.name, reason: whyUnwanted(policy, current, namespaces.get(ns), serviceAccounts) });
  }
  for (const [key, want] of desired) {
    if (!actual.has(key)) actions.push({ kind: 'create', key, certificate: want, reason: `service account ${want.metadata.annotations?.[SERVICE_ACCOUNT_ANNOTATION]} has no certificate` });
  }
  return { actions, skipped, desired: desired.size };
}

function whyUnwanted(policy: ControllerPolicy, cert: Certificate, ns: Namespace | undefined, serviceAccounts: Map<string, ServiceAccount>): string {
  if (!policy.issueCertificates) return 'identity.source is not secret';
  const name = cert.metadata.namespace ?? '';
  const saName = cert.metadata.annotations?.[SERVICE_ACCOUNT_ANNOTATION];
  const sa = saName === undefined ? undefined : serviceAccounts.get(`${name}/${saName}`);
  if (sa === undefined) return `service account ${saName ?? '(unknown)'} is gone`;
  if (!wantsCertificate(policy, ns, sa)) return `namespace ${name} is not enabled and service account ${saName} is not opted in`;
  return 'not wanted under the current secretNameTemplate';
}

/**
 * The first managed field where `current` is not what `want` says, or undefined.
 * Managed fields are compared as a subset: fields others add (a defaulting
 * webhook, an extra label) are kept, and never cause an update loop.
 */
export function difference(want: Certificate, current: Certificate): string | undefined {
  const spec = subsetProblem(want.spec, current.spec, 'spec');
  if (spec) return spec;
  const labels = subsetProblem(want.metadata.labels ?? {}, current.metadata.labels ?? {}, 'metadata.labels');
  if (labels) return labels;
  const annotations = subsetProblem(want.metadata.annotations ?? {}, current.metadata.annotations ?? {}, 'metadata.annotations');
  if (annotations) return annotations;
  for (const ref of want.metadata.ownerReferences ?? []) {
    if (!(current.metadata.ownerReferences ?? []).some((r) => r.uid === ref.uid && r.kind === ref.kind && r.name === ref.name)) {
      return 'metadata.ownerReferences differs';
    }
  }
  return undefined;
}

/** `current` with the managed fields set as `want` says, keeping its resourceVersion for the update. */
export function merged(want: Certificate, current: Certificate): Certificate {
  const foreignOwners = (current.metadata.ownerReferences ?? []).filter((r) => r.kind !== 'ServiceAccount');
  return {
    ...current,
    metadata: {
      ...current.metadata,
      labels: { ...current.metadata.labels, ...want.metadata.labels },
      annotations: { ...current.metadata.annotations, ...want.metadata.annotations },
      ownerReferences: [...foreignOwners, ...(want.metadata.ownerReferences ?? [])],
    },
    spec: { ...current.spec, ...want.spec },
  };
}

function subsetProblem(want: unknown, have: unknown, path: string): string | undefined {
  if (want !== null && typeof want === 'object' && !Array.isArray(want)) {
    if (have === null || typeof have !== 'object' || Array.isArray(have)) return `${path} differs`;
    for (const [k, v] of Object.entries(want)) {
      const p = subsetProblem(v, (have as Record<string, unknown>)[k], `${path}.${k}`);
      if (p) return p;
    }
    return undefined;
  }
  return JSON.stringify(want) === JSON.stringify(have) ? undefined : `${path} differs`;
}

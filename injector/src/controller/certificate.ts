// The Certificate a ServiceAccount should have: a pure function of the policy
// and the ServiceAccount. cert-manager issues it into the Secret the injector
// mounts into every pod running as that ServiceAccount.
import { SpiffeId } from '../../../proxy/src/identity/spiffe-id.js';
import { secretNameFor } from '../config.js';
import { MANAGED_BY, MANAGED_BY_LABEL, SERVICE_ACCOUNT_ANNOTATION } from './names.js';
import type { Certificate, OwnerReference, ServiceAccount } from './types.js';

export interface IssuerRef {
  name: string;
  kind: string;
  group: string;
}

/** What every managed Certificate is made of; built from the config file by config.ts. */
export interface CertificatePolicy {
  trustDomain: string;
  /** `identity.secretNameTemplate` of the injector's config: the same Secret name on both sides. */
  secretNameTemplate: string;
  issuerRef: IssuerRef;
  /** Go durations as cert-manager reads them (`24h0m0s`). */
  duration: string;
  renewBefore: string;
}

/**
 * Server auth and client auth are what an mTLS sidecar needs; digital signature
 * (and key encipherment, which cert-manager puts in its own default set) are the
 * key usages TLS checks on the leaf.
 */
export const USAGES = ['digital signature', 'key encipherment', 'server auth', 'client auth'];

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Why `name` cannot name a Secret or a Certificate, or undefined. */
export function objectNameProblem(name: string): string | undefined {
  if (name.length > 253) return `name ${name.slice(0, 40)}... is longer than 253 characters`;
  if (!DNS_SUBDOMAIN.test(name)) return `name ${JSON.stringify(name)} is not a DNS subdomain`;
  return undefined;
}

export function ownerReferenceTo(sa: ServiceAccount): OwnerReference {
  return { apiVersion: 'v1', kind: 'ServiceAccount', name: sa.metadata.name, uid: sa.metadata.uid ?? '' };
}

export type Desire = { certificate: Certificate } | { problem: string };

export function desiredCertificate(policy: CertificatePolicy, sa: ServiceAccount): Desire {
  const namespace = sa.metadata.namespace ?? '';
  // The injector's own function: the Secret it mounts is the one created here.
  const name = secretNameFor(policy.secretNameTemplate, sa.metadata.name, namespace);
  const problem = objectNameProblem(name);
  if (problem) return { problem: `secret ${problem}` };
  const spiffeId = SpiffeId.ofServiceAccount(policy.trustDomain, namespace, sa.metadata.name);
  const labels = { [MANAGED_BY_LABEL]: MANAGED_BY };
  return {
    certificate: {
      apiVersion: 'cert-manager.io/v1',
      kind: 'Certificate',
      metadata: {
        name,
        namespace,
        labels,
        annotations: { [SERVICE_ACCOUNT_ANNOTATION]: sa.metadata.name },
        // The API server's garbage collector removes the Certificate with its
        // ServiceAccount even while the controller is down.
        ownerReferences: [ownerReferenceTo(sa)],
      },
      spec: {
        secretName: name,
        // So that `kubectl get secret -A -l app.kubernetes.io/managed-by=tlsmesh-controller` finds them.
        secretTemplate: { labels },
        uris: [spiffeId.toString()],
        duration: policy.duration,
        renewBefore: policy.renewBefore,
        usages: [...USAGES],
        // A new key at every renewal: a leaked key is only good until the next one.
        privateKey: { algorithm: 'ECDSA', size: 256, encoding: 'PKCS8', rotationPolicy: 'Always' },
        issuerRef: { ...policy.issuerRef },
        // Keep one CertificateRequest per Certificate instead of one per renewal.
        revisionHistoryLimit: 1,
      },
    },
  };
}

/** Milliseconds -> a Go duration string as Go prints it (`24h0m0s`, `5m0s`, `30s`). */
export function goDuration(ms: number): string {
  const total = Math.round(ms / 1000);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (h > 0) return `${h}h${m}m${s}s`;
  if (m > 0) return `${m}m${s}s`;
  return `${s}s`;
}

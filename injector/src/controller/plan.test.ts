import { describe, expect, it } from 'vitest';
import { desiredCertificate } from './certificate.js';
import { difference, merged, plan, type ControllerPolicy, type Observed } from './plan.js';
import type { Certificate, Namespace, ServiceAccount } from './types.js';

const POLICY: ControllerPolicy = {
  trustDomain: 'cluster.local',
  secretNameTemplate: 'tlsmesh-svid-{serviceAccount}',
  issuerRef: { name: 'tlsmesh-ca', kind: 'ClusterIssuer', group: 'cert-manager.io' },
  duration: '24h0m0s',
  renewBefore: '8h0m0s',
  ignoredNamespaces: ['kube-system'],
  issueCertificates: true,
};

const ns = (name: string, label: string | null = 'enabled', extra: Partial<Namespace['metadata']> = {}): Namespace => ({
  metadata: { name, ...(label === null ? {} : { labels: { 'tlsmesh.io/inject': label } }), ...extra },
});
const sa = (namespace: string, name: string, extra: Partial<ServiceAccount['metadata']> = {}): ServiceAccount => ({
  metadata: { name, namespace, uid: `uid-${namespace}-${name}`, ...extra },
});
const certFor = (s: ServiceAccount, policy = POLICY): Certificate => {
  const d = desiredCertificate(policy, s);
  if (!('certificate' in d)) throw new Error(d.problem);
  return { ...d.certificate, metadata: { ...d.certificate.metadata, resourceVersion: '7', uid: 'c-uid' } };
};
const summary = (o: Observed, policy = POLICY) =>
  plan(policy, o).actions.map((a) => `${a.kind} ${a.key}: ${a.reason}`);

describe('plan', () => {
  it.each<[string, Observed, string[]]>([
    ['nothing enabled, nothing to do', { namespaces: [ns('a', null)], serviceAccounts: [sa('a', 'web')], certificates: [] }, []],
    [
      'every ServiceAccount of an enabled namespace gets one',
      { namespaces: [ns('a')], serviceAccounts: [sa('a', 'web'), sa('a', 'default')], certificates: [] },
      ['create a/tlsmesh-svid-web: service account web has no certificate', 'create a/tlsmesh-svid-default: service account default has no certificate'],
    ],
    ['a label other than enabled is not enabled', { namespaces: [ns('a', 'disabled')], serviceAccounts: [sa('a', 'web')], certificates: [] }, []],
    ['ignored namespaces stay out even when labelled', { namespaces: [ns('kube-system')], serviceAccounts: [sa('kube-system', 'x')], certificates: [] }, []],
    ['a ServiceAccount being deleted gets none', { namespaces: [ns('a')], serviceAccounts: [sa('a', 'web', { deletionTimestamp: '2026-01-01T00:00:00Z' })], certificates: [] }, []],
    ['in sync: nothing to do', { namespaces: [ns('a')], serviceAccounts: [sa('a', 'web')], certificates: [certFor(sa('a', 'web'))] }, []],
    [
      'the ServiceAccount went away',
      { namespaces: [ns('a')], serviceAccounts: [], certificates: [certFor(sa('a', 'web'))] },
      ['delete a/tlsmesh-svid-web: service account web is gone'],
    ],
    [
      'the namespace label went away',
      { namespaces: [ns('a', null)], serviceAccounts: [sa('a', 'web')], certificates: [certFor(sa('a', 'web'))] },
      ['delete a/tlsmesh-svid-web: namespace a is not enabled and service account web is not opted in'],
    ],
    [
      'the namespace went away',
      { namespaces: [], serviceAccounts: [], certificates: [certFor(sa('a', 'web'))] },
      ['delete a/tlsmesh-svid-web: service account web is gone'],
    ],
    [
      'outside enabled namespaces, a ServiceAccount annotated tlsmesh.io/inject: "true" gets one',
      { namespaces: [ns('a', null)], serviceAccounts: [sa('a', 'web', { annotations: { 'tlsmesh.io/inject': 'true' } }), sa('a', 'db')], certificates: [] },
      ['create a/tlsmesh-svid-web: service account web has no certificate'],
    ],
    [
      'a disabled namespace wins over the ServiceAccount annotation, as in the injector',
      { namespaces: [ns('a', 'disabled')], serviceAccounts: [sa('a', 'web', { annotations: { 'tlsmesh.io/inject': 'true' } })], certificates: [] },
      [],
    ],
    [
      'an ignored namespace wins over the ServiceAccount annotation',
      { namespaces: [ns('kube-system', null)], serviceAccounts: [sa('kube-system', 'web', { annotations: { 'tlsmesh.io/inject': 'true' } })], certificates: [] },
      [],
    ],
    [
      'the ServiceAccount annotation went away',
      { namespaces: [ns('a', null)], serviceAccounts: [sa('a', 'web', { annotations: { 'tlsmesh.io/inject': 'false' } })], certificates: [certFor(sa('a', 'web'))] },
      ['delete a/tlsmesh-svid-web: namespace a is not enabled and service account web is not opted in'],
    ],
    [
      'a terminating namespace is left to the namespace controller',
      { namespaces: [ns('a', 'enabled', { deletionTimestamp: '2026-01-01T00:00:00Z' })], serviceAccounts: [sa('a', 'web')], certificates: [certFor(sa('a', 'web'))] },
      [],
    ],
    [
      'the ServiceAccount was recreated: the owner reference follows the new uid',
      { namespaces: [ns('a')], serviceAccounts: [sa('a', 'web', { uid: 'new-uid' })], certificates: [certFor(sa('a', 'web'))] },
      ['update a/tlsmesh-svid-web: metadata.ownerReferences differs'],
    ],
  ])('%s', (_name, observed, expected) => {
    expect(summary(observed)).toEqual(expected);
  });

  it.each<[string, Partial<ControllerPolicy>, string]>([
    ['duration', { duration: '48h0m0s' }, 'spec.duration differs'],
    ['renewBefore', { renewBefore: '1h0m0s' }, 'spec.renewBefore differs'],
    ['issuer', { issuerRef: { name: 'other', kind: 'ClusterIssuer', group: 'cert-manager.io' } }, 'spec.issuerRef.name differs'],
    ['trust domain', { trustDomain: 'prod.example' }, 'spec.uris differs'],
  ])('a changed %s updates the Certificate in place', (_name, change, reason) => {
    const current = certFor(sa('a', 'web'));
    const p = plan({ ...POLICY, ...change }, { namespaces: [ns('a')], serviceAccounts: [sa('a', 'web')], certificates: [current] });
    expect(p.actions).toHaveLength(1);
    const [a] = p.actions;
    expect(a).toMatchObject({ kind: 'update', key: 'a/tlsmesh-svid-web', reason });
    if (a?.kind !== 'update') throw new Error('expected an update');
    // The update carries the resourceVersion it was planned from (optimistic concurrency).
    expect(a.certificate.metadata.resourceVersion).toBe('7');
    expect(difference(certFor(sa('a', 'web'), { ...POLICY, ...change }), a.certificate)).toBeUndefined();
  });

  it('a changed secretNameTemplate replaces the Certificates: create the new name, delete the old', () => {
    const p = plan({ ...POLICY, secretNameTemplate: 'svid-{namespace}-{serviceAccount}' }, {
      namespaces: [ns('a')],
      serviceAccounts: [sa('a', 'web')],
      certificates: [certFor(sa('a', 'web'))],
    });
    expect(p.actions.map((x) => `${x.kind} ${x.key}: ${x.reason}`)).toEqual([
      'delete a/tlsmesh-svid-web: not wanted under the current secretNameTemplate',
      'create a/svid-a-web: service account web has no certificate',
    ]);
  });

  it('identity.source csi: no Certificates, and the old ones go', () => {
    const p = plan({ ...POLICY, issueCertificates: false }, { namespaces: [ns('a')], serviceAccounts: [sa('a', 'web'), sa('a', 'db')], certificates: [certFor(sa('a', 'web'))] });
    expect(p.actions.map((x) => `${x.kind} ${x.key}: ${x.reason}`)).toEqual(['delete a/tlsmesh-svid-web: identity.source is not secret']);
    expect(p.desired).toBe(0);
  });

  it('a ServiceAccount whose Secret name would be invalid is skipped with the reason', () => {
    const long = 'x'.repeat(250);
    const p = plan(POLICY, { namespaces: [ns('a')], serviceAccounts: [sa('a', long), sa('a', 'ok')], certificates: [] });
    expect(p.actions.map((x) => x.key)).toEqual(['a/tlsmesh-svid-ok']);
    expect(p.skipped).toEqual([{ key: `a/${long}`, reason: expect.stringMatching(/^secret name tlsmesh-svid-x+\.\.\. is longer than 253 characters$/) }]);
  });

  it('fields added by others are kept and never cause an update', () => {
    const current = certFor(sa('a', 'web'));
    current.metadata.labels = { ...current.metadata.labels, team: 'payments' };
    current.spec = { ...current.spec, subject: { organizations: ['acme'] } };
    current.status = { conditions: [{ type: 'Ready', status: 'True' }] };
    expect(summary({ namespaces: [ns('a')], serviceAccounts: [sa('a', 'web')], certificates: [current] })).toEqual([]);
    const m = merged(certFor(sa('a', 'web'), { ...POLICY, duration: '48h0m0s' }), current);
    expect(m.metadata.labels).toEqual({ 'app.kubernetes.io/managed-by': 'tlsmesh-controller', team: 'payments' });
    expect(m.spec.subject).toEqual({ organizations: ['acme'] });
    expect(m.spec.duration).toBe('48h0m0s');
  });

  it('a foreign owner reference is kept next to the ServiceAccount', () => {
    const current = certFor(sa('a', 'web'));
    const foreign = { apiVersion: 'example.com/v1', kind: 'Thing', name: 't', uid: 'u' };
    current.metadata.ownerReferences = [foreign, { apiVersion: 'v1', kind: 'ServiceAccount', name: 'web', uid: 'stale' }];
    const p = plan(POLICY, { namespaces: [ns('a')], serviceAccounts: [sa('a', 'web')], certificates: [current] });
    const [a] = p.actions;
    if (a?.kind !== 'update') throw new Error('expected an update');
    expect(a.certificate.metadata.ownerReferences).toEqual([foreign, { apiVersion: 'v1', kind: 'ServiceAccount', name: 'web', uid: 'uid-a-web' }]);
  });

  it('two ServiceAccounts can never be given one Secret', () => {
    // Only reachable with a template the config loader refuses; plan stays total anyway.
    const p = plan({ ...POLICY, secretNameTemplate: 'svid-{namespace}' }, { namespaces: [ns('a')], serviceAccounts: [sa('a', 'one'), sa('a', 'two')], certificates: [] });
    expect(p.actions.map((x) => x.key)).toEqual(['a/svid-a']);
    expect(p.skipped).toEqual([{ key: 'a/two', reason: 'certificate a/svid-a is already the one of service account a/one' }]);
  });
});

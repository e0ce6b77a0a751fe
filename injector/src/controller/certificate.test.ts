import { describe, expect, it } from 'vitest';
import { validateObject } from '../../../test/support/k8s-validate.js';
import { desiredCertificate, goDuration, objectNameProblem, type CertificatePolicy } from './certificate.js';

const POLICY: CertificatePolicy = {
  trustDomain: 'cluster.local',
  secretNameTemplate: 'tlsmesh-svid-{serviceAccount}',
  issuerRef: { name: 'tlsmesh-ca', kind: 'ClusterIssuer', group: 'cert-manager.io' },
  duration: '24h0m0s',
  renewBefore: '8h0m0s',
};
const sa = { metadata: { name: 'web', namespace: 'shop', uid: 'u-1' } };

describe('desiredCertificate', () => {
  it('is an SVID Certificate for the ServiceAccount, in the Secret the injector mounts', () => {
    const d = desiredCertificate(POLICY, sa);
    if (!('certificate' in d)) throw new Error(d.problem);
    const c = d.certificate;
    expect(c.metadata).toEqual({
      name: 'tlsmesh-svid-web',
      namespace: 'shop',
      labels: { 'app.kubernetes.io/managed-by': 'tlsmesh-controller' },
      annotations: { 'tlsmesh.io/service-account': 'web' },
      ownerReferences: [{ apiVersion: 'v1', kind: 'ServiceAccount', name: 'web', uid: 'u-1' }],
    });
    expect(c.spec).toEqual({
      secretName: 'tlsmesh-svid-web',
      secretTemplate: { labels: { 'app.kubernetes.io/managed-by': 'tlsmesh-controller' } },
      uris: ['spiffe://cluster.local/ns/shop/sa/web'],
      duration: '24h0m0s',
      renewBefore: '8h0m0s',
      usages: ['digital signature', 'key encipherment', 'server auth', 'client auth'],
      privateKey: { algorithm: 'ECDSA', size: 256, encoding: 'PKCS8', rotationPolicy: 'Always' },
      issuerRef: { name: 'tlsmesh-ca', kind: 'ClusterIssuer', group: 'cert-manager.io' },
      revisionHistoryLimit: 1,
    });
  });

  it("passes cert-manager's Certificate schema, with no field it does not know", async () => {
    const d = desiredCertificate(POLICY, sa);
    if (!('certificate' in d)) throw new Error(d.problem);
    expect(await validateObject(d.certificate)).toEqual([]);
  });

  it('the strict check does catch a misspelt field (so the test above can fail)', async () => {
    const d = desiredCertificate(POLICY, sa);
    if (!('certificate' in d)) throw new Error(d.problem);
    const bad = { ...d.certificate, spec: { ...d.certificate.spec, privateKey: { ...d.certificate.spec.privateKey, rotationPolcy: 'Always' } } };
    expect(await validateObject(bad)).toEqual(['spec.privateKey.rotationPolcy: unknown field']);
    expect(await validateObject({ ...d.certificate, spec: { ...d.certificate.spec, usages: ['server auth', 'severe auth'] } })).not.toEqual([]);
  });

  it.each([
    ['ok-name', undefined],
    ['a.b-c', undefined],
    ['Upper', 'name "Upper" is not a DNS subdomain'],
    ['trailing-', 'name "trailing-" is not a DNS subdomain'],
    ['x'.repeat(254), `name ${'x'.repeat(40)}... is longer than 253 characters`],
  ])('objectNameProblem(%s)', (name, problem) => {
    expect(objectNameProblem(name)).toBe(problem);
  });
});

describe('goDuration', () => {
  it.each([
    [86_400_000, '24h0m0s'],
    [90 * 86_400_000, '2160h0m0s'],
    [5_400_000, '1h30m0s'],
    [300_000, '5m0s'],
    [61_000, '1m1s'],
    [30_000, '30s'],
  ])('%d ms -> %s (as Go prints it)', (ms, text) => {
    expect(goDuration(ms)).toBe(text);
  });
});

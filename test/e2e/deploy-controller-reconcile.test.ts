// The certificate controller against a fake API server: it creates a
// Certificate per ServiceAccount of every enabled namespace, follows
// ServiceAccounts and the namespace label as they come and go, updates its
// Certificates in place when its config changes, and never touches others'.
import { afterEach, describe, expect, it } from 'vitest';
import { FakeApiServer, type Obj } from '../support/fake-apiserver.js';
import { eventually, namespace, POLICY, serviceAccount, startController, writes, type Harness } from '../support/controller-harness.js';

let fake: FakeApiServer | undefined;
const harnesses: Harness[] = [];
afterEach(async () => {
  for (const h of harnesses.splice(0)) await h.controller.stop();
  await fake?.close();
  fake = undefined;
});

function start(f: FakeApiServer, policy = POLICY): Harness {
  const h = startController(f, { policy });
  harnesses.push(h);
  return h;
}

/** Certificates in the fake as `namespace/name`. */
const certNames = (f: FakeApiServer) => f.list('certificates').map((c) => `${c.metadata.namespace}/${c.metadata.name}`);

/** Wait until the controller has nothing left to do, then hand back what exists. */
async function converged(f: FakeApiServer, h: Harness, expected: string[]): Promise<string[]> {
  return eventually(() => {
    const names = certNames(f);
    return h.controller.lastPlan?.actions.length === 0 && JSON.stringify(names) === JSON.stringify(expected) && names;
  }, `certificates ${expected.join(', ')} (have ${certNames(f).join(', ')})`);
}

describe('certificate controller: reconcile', () => {
  it('gives every ServiceAccount of an enabled namespace its SVID Certificate, and nobody else', async () => {
    fake = await FakeApiServer.start();
    fake.apply('namespaces', namespace('shop'));
    fake.apply('namespaces', namespace('plain', {}));
    fake.apply('namespaces', namespace('kube-system'));
    for (const [ns, sa] of [['shop', 'default'], ['shop', 'web'], ['plain', 'web'], ['kube-system', 'coredns']]) fake.apply('serviceaccounts', serviceAccount(ns!, sa!));
    const h = start(fake);
    await converged(fake, h, ['shop/tlsmesh-svid-default', 'shop/tlsmesh-svid-web']);
    const web = fake.get('certificates', 'shop', 'tlsmesh-svid-web')!;
    const sa = fake.get('serviceaccounts', 'shop', 'web')!;
    expect(web.spec).toMatchObject({
      secretName: 'tlsmesh-svid-web',
      uris: ['spiffe://cluster.local/ns/shop/sa/web'],
      duration: '24h0m0s',
      renewBefore: '8h0m0s',
      privateKey: { algorithm: 'ECDSA', size: 256, rotationPolicy: 'Always' },
      issuerRef: { name: 'tlsmesh-ca', kind: 'ClusterIssuer', group: 'cert-manager.io' },
    });
    expect(web.metadata.ownerReferences).toEqual([{ apiVersion: 'v1', kind: 'ServiceAccount', name: 'web', uid: sa.metadata.uid }]);
    expect(writes(fake)).toEqual([
      'POST /apis/cert-manager.io/v1/namespaces/shop/certificates 201',
      'POST /apis/cert-manager.io/v1/namespaces/shop/certificates 201',
    ]);
  });

  it('follows ServiceAccounts and the namespace label as they come and go', async () => {
    fake = await FakeApiServer.start();
    fake.apply('namespaces', namespace('shop'));
    fake.apply('serviceaccounts', serviceAccount('shop', 'web'));
    const h = start(fake);
    await converged(fake, h, ['shop/tlsmesh-svid-web']);

    fake.apply('serviceaccounts', serviceAccount('shop', 'db'));
    await converged(fake, h, ['shop/tlsmesh-svid-db', 'shop/tlsmesh-svid-web']);

    fake.remove('serviceaccounts', 'shop', 'web');
    await converged(fake, h, ['shop/tlsmesh-svid-db']);

    fake.apply('namespaces', namespace('shop', { 'tlsmesh.io/inject': 'disabled' }));
    await converged(fake, h, []);

    fake.apply('namespaces', namespace('shop'));
    await converged(fake, h, ['shop/tlsmesh-svid-db']);

    fake.apply('namespaces', namespace('later'));
    fake.apply('serviceaccounts', serviceAccount('later', 'api'));
    await converged(fake, h, ['later/tlsmesh-svid-api', 'shop/tlsmesh-svid-db']);

    const deletes = writes(fake).filter((w) => w.startsWith('DELETE'));
    expect(deletes).toEqual([
      'DELETE /apis/cert-manager.io/v1/namespaces/shop/certificates/tlsmesh-svid-web 200',
      'DELETE /apis/cert-manager.io/v1/namespaces/shop/certificates/tlsmesh-svid-db 200',
    ]);
    const log = h.log.entries.filter((e) => e.msg === 'certificate deleted').map((e) => e.obj.reason);
    expect(log).toEqual(['service account web is gone', 'namespace shop is not enabled and service account db is not opted in']);
  });

  it('updates its Certificates in place when the config changes, keeping status and what others added', async () => {
    fake = await FakeApiServer.start();
    fake.apply('namespaces', namespace('shop'));
    fake.apply('serviceaccounts', serviceAccount('shop', 'web'));
    const foreign: Obj = { apiVersion: 'cert-manager.io/v1', kind: 'Certificate', metadata: { name: 'ingress-tls', namespace: 'shop' }, spec: { secretName: 'ingress-tls', duration: '1h' } };
    fake.apply('certificates', foreign);
    const first = start(fake);
    await converged(fake, first, ['shop/ingress-tls', 'shop/tlsmesh-svid-web']);
    await first.controller.stop();

    // cert-manager wrote status; a user added a label.
    const issued = fake.get('certificates', 'shop', 'tlsmesh-svid-web')!;
    fake.apply('certificates', { ...issued, metadata: { ...issued.metadata, labels: { ...issued.metadata.labels, team: 'payments' } }, status: { conditions: [{ type: 'Ready', status: 'True' }] } });
    const before = fake.get('certificates', 'shop', 'tlsmesh-svid-web')!;
    const foreignBefore = fake.get('certificates', 'shop', 'ingress-tls')!;

    const second = start(fake, { ...POLICY, duration: '48h0m0s', renewBefore: '16h0m0s', issuerRef: { ...POLICY.issuerRef, name: 'tlsmesh-ca-2' } });
    const after = await eventually(() => {
      const c = fake!.get('certificates', 'shop', 'tlsmesh-svid-web')!;
      return (c.spec as { duration: string }).duration === '48h0m0s' && second.controller.lastPlan?.actions.length === 0 && c;
    }, 'the Certificate updated');
    expect(after.metadata.uid).toBe(before.metadata.uid);
    expect(after.metadata.resourceVersion).not.toBe(before.metadata.resourceVersion);
    expect(after.spec).toMatchObject({ duration: '48h0m0s', renewBefore: '16h0m0s', issuerRef: { name: 'tlsmesh-ca-2' } });
    expect(after.metadata.labels).toEqual({ 'app.kubernetes.io/managed-by': 'tlsmesh-controller', team: 'payments' });
    expect(after.status).toEqual({ conditions: [{ type: 'Ready', status: 'True' }] });
    expect(fake.get('certificates', 'shop', 'ingress-tls')).toEqual(foreignBefore);
    expect(writes(fake).filter((w) => w.startsWith('PUT'))).toEqual(['PUT /apis/cert-manager.io/v1/namespaces/shop/certificates/tlsmesh-svid-web 200']);
    expect(second.log.entries.find((e) => e.msg === 'certificate updated')?.obj.reason).toBe('spec.duration differs');
  });

  it('after a restart with nothing changed, writes nothing', async () => {
    fake = await FakeApiServer.start();
    fake.apply('namespaces', namespace('shop'));
    fake.apply('serviceaccounts', serviceAccount('shop', 'web'));
    const first = start(fake);
    await converged(fake, first, ['shop/tlsmesh-svid-web']);
    await first.controller.stop();
    const writesBefore = writes(fake).length;
    const second = start(fake);
    await eventually(() => second.controller.lastPlan !== undefined, 'a first reconcile');
    await second.controller.idle();
    expect(second.controller.lastPlan!.actions).toEqual([]);
    expect(writes(fake).length).toBe(writesBefore);
  });
});

// API errors: the controller backs off (time is a ManualClock here, so each
// backoff is asserted, not waited out), writes nothing from a half-listed
// cache, lets one failing Certificate wait without holding up the others, and
// never overwrites a Certificate it does not own.
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../injector/src/controller/clock.js';
import { FakeApiServer, type Obj } from '../support/fake-apiserver.js';
import { advanceUntil, eventually, metricValue, namespace, serviceAccount, startController, writes, type Harness } from '../support/controller-harness.js';

let fake: FakeApiServer | undefined;
let h: Harness | undefined;
afterEach(async () => {
  await h?.controller.stop();
  await fake?.close();
  h = undefined;
  fake = undefined;
});

const INITIAL = 1000; // with random() = 0.5 the jitter is zero: delays are 1000, 2000, 4000...
const managed = (ns: string, name: string, sa: string): Obj => ({
  apiVersion: 'cert-manager.io/v1',
  kind: 'Certificate',
  metadata: { name, namespace: ns, labels: { 'app.kubernetes.io/managed-by': 'tlsmesh-controller' }, annotations: { 'tlsmesh.io/service-account': sa } },
  spec: { secretName: name },
});
const failed = (f: FakeApiServer, method: string, path: string) => f.requests.filter((r) => r.method === method && r.path === path && r.query.watch === undefined && r.status >= 500).length;

describe('certificate controller: API errors', () => {
  it('a failing list holds every write back, with growing backoff, until the cache is complete', async () => {
    fake = await FakeApiServer.start();
    fake.apply('namespaces', namespace('shop'));
    fake.apply('serviceaccounts', serviceAccount('shop', 'web'));
    fake.apply('certificates', managed('shop', 'tlsmesh-svid-gone', 'gone'));
    fake.fail({ method: 'GET', path: /^\/api\/v1\/serviceaccounts$/, watch: false, status: 500, times: 2 });
    const clock = new ManualClock();
    h = startController(fake, { clock, initialMs: INITIAL });

    await eventually(() => failed(fake!, 'GET', '/api/v1/serviceaccounts') === 1 && clock.pending().includes(INITIAL), 'first failed list, backing off 1s');
    // Without the ServiceAccounts every Certificate would look orphaned: nothing is written.
    expect(writes(fake)).toEqual([]);
    expect(h.controller.synced).toBe(false);
    clock.advance(INITIAL);
    await eventually(() => failed(fake!, 'GET', '/api/v1/serviceaccounts') === 2 && clock.pending().includes(2 * INITIAL), 'second failed list, backing off 2s');
    expect(writes(fake)).toEqual([]);

    await advanceUntil(clock, () => fake!.get('certificates', 'shop', 'tlsmesh-svid-web') && !fake!.get('certificates', 'shop', 'tlsmesh-svid-gone'), 'converged');
    expect(writes(fake)).toEqual([
      'DELETE /apis/cert-manager.io/v1/namespaces/shop/certificates/tlsmesh-svid-gone 200',
      'POST /apis/cert-manager.io/v1/namespaces/shop/certificates 201',
    ]);
    expect(await metricValue(h.registry, 'tlsmesh_controller_list_errors_total', { resource: 'serviceaccounts' })).toBe(2);
    expect(h.log.entries.filter((e) => e.msg === 'list failed').map((e) => e.obj.retryInMs)).toEqual([INITIAL, 2 * INITIAL]);
  });

  it('a failing write backs that Certificate off alone; the others go ahead', async () => {
    fake = await FakeApiServer.start();
    fake.apply('namespaces', namespace('alpha'));
    fake.apply('namespaces', namespace('beta'));
    fake.apply('serviceaccounts', serviceAccount('alpha', 'web'));
    fake.apply('serviceaccounts', serviceAccount('beta', 'web'));
    fake.fail({ method: 'POST', path: /^\/apis\/cert-manager\.io\/v1\/namespaces\/alpha\/certificates$/, status: 503, times: 2 });
    const clock = new ManualClock();
    h = startController(fake, { clock, initialMs: INITIAL });

    await eventually(() => fake!.get('certificates', 'beta', 'tlsmesh-svid-web') && failed(fake!, 'POST', '/apis/cert-manager.io/v1/namespaces/alpha/certificates') === 1, 'beta created, alpha failed once');
    await h.controller.idle();
    expect(fake.get('certificates', 'alpha', 'tlsmesh-svid-web')).toBeUndefined();
    expect(clock.pending()).toContain(INITIAL);
    clock.advance(INITIAL);
    await eventually(() => failed(fake!, 'POST', '/apis/cert-manager.io/v1/namespaces/alpha/certificates') === 2, 'alpha failed twice');
    await h.controller.idle();
    expect(clock.pending()).toContain(2 * INITIAL);
    await advanceUntil(clock, () => fake!.get('certificates', 'alpha', 'tlsmesh-svid-web'), 'alpha created at last');
    await h.controller.idle();

    expect(await metricValue(h.registry, 'tlsmesh_controller_actions_total', { action: 'create', result: 'error' })).toBe(2);
    expect(await metricValue(h.registry, 'tlsmesh_controller_actions_total', { action: 'create', result: 'ok' })).toBe(2);
    const warnings = h.log.entries.filter((e) => e.msg === 'certificate create failed');
    expect(warnings.map((e) => [e.obj.certificate, e.obj.retryInMs])).toEqual([
      ['alpha/tlsmesh-svid-web', INITIAL],
      ['alpha/tlsmesh-svid-web', 2 * INITIAL],
    ]);
    expect(warnings[0]!.obj.err).toBe('HTTP 503 ServiceUnavailable: injected failure for POST /apis/cert-manager.io/v1/namespaces/alpha/certificates');
  });

  it('a Certificate of the same name that is not its own is never overwritten', async () => {
    fake = await FakeApiServer.start();
    fake.apply('namespaces', namespace('shop'));
    fake.apply('serviceaccounts', serviceAccount('shop', 'web'));
    fake.apply('certificates', { apiVersion: 'cert-manager.io/v1', kind: 'Certificate', metadata: { name: 'tlsmesh-svid-web', namespace: 'shop' }, spec: { secretName: 'tlsmesh-svid-web' } });
    const theirs = fake.get('certificates', 'shop', 'tlsmesh-svid-web');
    const clock = new ManualClock();
    h = startController(fake, { clock, initialMs: INITIAL });

    await advanceUntil(clock, () => h!.log.entries.filter((e) => e.msg === 'certificate create failed').length >= 3, 'three refused creates');
    expect(fake.get('certificates', 'shop', 'tlsmesh-svid-web')).toEqual(theirs);
    expect(writes(fake).every((w) => w === 'POST /apis/cert-manager.io/v1/namespaces/shop/certificates 409')).toBe(true);
    const [first] = h.log.entries.filter((e) => e.msg === 'certificate create failed');
    expect(first!.obj.err).toBe(
      'HTTP 409 AlreadyExists: certificates.cert-manager.io "tlsmesh-svid-web" already exists (a Certificate of that name exists without the app.kubernetes.io/managed-by=tlsmesh-controller label: rename or delete it)',
    );
    expect(h.log.entries.filter((e) => e.msg === 'certificate create failed').map((e) => e.obj.retryInMs).slice(0, 3)).toEqual([INITIAL, 2 * INITIAL, 4 * INITIAL]);
  });

  it('a stale update (409 Conflict) is retried from the fresh object; a delete already done (404) is done', async () => {
    fake = await FakeApiServer.start();
    fake.apply('namespaces', namespace('shop'));
    fake.apply('serviceaccounts', serviceAccount('shop', 'web'));
    fake.apply('certificates', { ...managed('shop', 'tlsmesh-svid-web', 'web'), spec: { secretName: 'tlsmesh-svid-web', duration: '1h0m0s' } });
    fake.apply('certificates', managed('shop', 'tlsmesh-svid-gone', 'gone'));
    fake.fail({ method: 'PUT', path: /tlsmesh-svid-web$/, status: 409 });
    fake.fail({ method: 'DELETE', path: /tlsmesh-svid-gone$/, status: 404 });
    const clock = new ManualClock();
    h = startController(fake, { clock, initialMs: INITIAL });

    await advanceUntil(clock, () => (fake!.get('certificates', 'shop', 'tlsmesh-svid-web')?.spec as { duration?: string })?.duration === '24h0m0s', 'the update through');
    await h.controller.idle();
    expect(writes(fake).filter((w) => w.startsWith('PUT'))).toEqual([
      'PUT /apis/cert-manager.io/v1/namespaces/shop/certificates/tlsmesh-svid-web 409',
      'PUT /apis/cert-manager.io/v1/namespaces/shop/certificates/tlsmesh-svid-web 200',
    ]);
    // The 404 answered the one delete, and the controller took it as done: no retry.
    expect(writes(fake).filter((w) => w.startsWith('DELETE'))).toEqual(['DELETE /apis/cert-manager.io/v1/namespaces/shop/certificates/tlsmesh-svid-gone 404']);
    expect(await metricValue(h.registry, 'tlsmesh_controller_actions_total', { action: 'delete', result: 'error' })).toBe(0);
  });

  it('a failing watch resumes from its resourceVersion after a backoff, without a new list', async () => {
    fake = await FakeApiServer.start();
    fake.apply('namespaces', namespace('shop'));
    const clock = new ManualClock();
    h = startController(fake, { clock, initialMs: INITIAL });
    await advanceUntil(clock, () => fake!.openWatches === 3 && h!.controller.synced, 'three watches');
    fake.fail({ method: 'GET', path: /^\/api\/v1\/serviceaccounts$/, watch: true, status: 503, times: 2 });
    fake.closeWatches();
    fake.apply('serviceaccounts', serviceAccount('shop', 'late'));

    await advanceUntil(clock, () => fake!.get('certificates', 'shop', 'tlsmesh-svid-late'), 'the late ServiceAccount seen through the resumed watch');
    const saRequests = fake.requests.filter((r) => r.path === '/api/v1/serviceaccounts');
    expect(saRequests.filter((r) => r.query.watch === undefined).length).toBe(1);
    expect(saRequests.filter((r) => r.query.watch === 'true').map((r) => r.status)).toEqual([200, 503, 503, 200]);
    expect(new Set(saRequests.filter((r) => r.query.watch === 'true').map((r) => r.query.resourceVersion)).size).toBe(1);
    expect(await metricValue(h.registry, 'tlsmesh_controller_watch_restarts_total', { resource: 'serviceaccounts', how: 'error' })).toBe(2);
  });
});

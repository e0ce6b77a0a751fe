// Watch expiry: when the API server has dropped the history a watch needs (410
// Gone, sent as an ERROR event holding an `Expired` Status), the controller
// lists again and converges on what changed meanwhile; it never acts on a
// half-known state.
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../injector/src/controller/clock.js';
import { FakeApiServer } from '../support/fake-apiserver.js';
import { advanceUntil, eventually, metricValue, namespace, serviceAccount, startController, type Harness } from '../support/controller-harness.js';

let fake: FakeApiServer | undefined;
let h: Harness | undefined;
afterEach(async () => {
  await h?.controller.stop();
  await fake?.close();
  h = undefined;
  fake = undefined;
});

const lists = (f: FakeApiServer, path: string) => f.requests.filter((r) => r.method === 'GET' && r.path === path && r.query.watch === undefined).length;
const has = (f: FakeApiServer, sa: string) => f.get('certificates', 'shop', `tlsmesh-svid-${sa}`) !== undefined;

describe('certificate controller: watch expiry', () => {
  it('an ERROR 410 on open watches: lists everything again and converges', async () => {
    fake = await FakeApiServer.start();
    fake.apply('namespaces', namespace('shop'));
    fake.apply('serviceaccounts', serviceAccount('shop', 'web'));
    h = startController(fake);
    await eventually(() => has(fake!, 'web') && fake!.openWatches === 3, 'first Certificate and three watches');

    // The watch cache is reset: every open watch ends with 410, and the changes
    // made at the same moment reach the controller only through the new list.
    fake.expireHistory();
    fake.apply('serviceaccounts', serviceAccount('shop', 'api'));
    fake.remove('serviceaccounts', 'shop', 'web');

    const paths = ['/api/v1/namespaces', '/api/v1/serviceaccounts', '/apis/cert-manager.io/v1/certificates'];
    await eventually(() => has(fake!, 'api') && !has(fake!, 'web') && paths.every((p) => lists(fake!, p) >= 2), 'api in, web out, all listed again');
    for (const path of paths) expect(lists(fake, path)).toBe(2);
    for (const resource of ['namespaces', 'serviceaccounts', 'certificates']) {
      expect(await metricValue(h.registry, 'tlsmesh_controller_watch_restarts_total', { resource, how: 'expired' })).toBe(1);
    }
    expect(h.log.entries.filter((e) => e.msg.startsWith('watch expired')).length).toBe(3);
  });

  it('resuming a watch from a compacted resourceVersion gets 410: lists again instead', async () => {
    fake = await FakeApiServer.start();
    fake.apply('namespaces', namespace('shop'));
    fake.apply('serviceaccounts', serviceAccount('shop', 'web'));
    const clock = new ManualClock();
    h = startController(fake, { clock, initialMs: 1000 });
    await advanceUntil(clock, () => has(fake!, 'web') && fake!.openWatches === 3, 'first Certificate and three watches');
    const swatch = fake.requests.filter((r) => r.path === '/api/v1/serviceaccounts' && r.query.watch === 'true');
    const resumedFrom = swatch.at(-1)!.query.resourceVersion;

    // The watches end (as the server's timeout would end them, but early and
    // empty, so the ServiceAccount reflector waits a backoff before resuming);
    // meanwhile the world moves on and the history is compacted.
    fake.closeWatches();
    await eventually(() => fake!.watchesOf('serviceaccounts') === 0 && clock.pending().includes(1000), 'the ServiceAccount reflector backing off');
    fake.apply('serviceaccounts', serviceAccount('shop', 'api'));
    fake.remove('serviceaccounts', 'shop', 'web');
    fake.expireHistory();
    const mark = fake.requests.length;
    expect(has(fake, 'web')).toBe(true);

    await advanceUntil(clock, () => has(fake!, 'api') && !has(fake!, 'web'), 'api in, web out');
    const resumed = fake.requests.filter((r) => r.path === '/api/v1/serviceaccounts' && r.query.watch === 'true' && r.query.resourceVersion === resumedFrom);
    expect(resumed.length).toBe(2); // the first watch, and the resume that got 410
    // That resume was asked for after the history was gone: the 410 came as its answer.
    expect(fake.requests.indexOf(resumed[1]!)).toBeGreaterThanOrEqual(mark);
    expect(lists(fake, '/api/v1/serviceaccounts')).toBe(2);
    expect(await metricValue(h.registry, 'tlsmesh_controller_watch_restarts_total', { resource: 'serviceaccounts', how: 'expired' })).toBe(1);
  });

  it('a resync reconciles the whole cache even when no event arrives', async () => {
    fake = await FakeApiServer.start();
    fake.apply('namespaces', namespace('shop'));
    const clock = new ManualClock();
    h = startController(fake, { clock });
    await advanceUntil(clock, () => h!.controller.lastPlan !== undefined && fake!.openWatches === 3, 'first reconcile');
    await h.controller.idle();
    const before = await metricValue(h.registry, 'tlsmesh_controller_reconciles_total');
    clock.advance(3_600_000);
    await eventually(async () => (await metricValue(h!.registry, 'tlsmesh_controller_reconciles_total')) === before + 1, 'one more reconcile');
  });
});

// The fake API server the controller is tested against must itself behave like
// kube-apiserver, or the controller's tests prove nothing. Raw HTTP here, no
// client library in between.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeApiServer, parseSelector } from '../support/fake-apiserver.js';

let fake: FakeApiServer;
beforeEach(async () => {
  fake = await FakeApiServer.start();
});
afterEach(async () => {
  await fake.close();
});

const CERTS = '/apis/cert-manager.io/v1/namespaces/a/certificates';

async function call(method: string, path: string, body?: unknown) {
  const res = await fetch(fake.url + path, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

/** Open a watch and collect its events until the server ends the stream. */
async function watchAll(path: string): Promise<{ type: string; object: any }[]> {
  const res = await fetch(fake.url + path);
  expect(res.status).toBe(200);
  const text = await res.text();
  return text.split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

/** Open a watch and hand back the events as they come. */
async function openWatch(path: string) {
  const ac = new AbortController();
  const res = await fetch(fake.url + path, { signal: ac.signal });
  const reader = res.body!.getReader();
  const events: { type: string; object: any }[] = [];
  let buf = '';
  let ended = false;
  const pump = (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += new TextDecoder().decode(value);
        let i;
        while ((i = buf.indexOf('\n')) >= 0) {
          events.push(JSON.parse(buf.slice(0, i)));
          buf = buf.slice(i + 1);
        }
      }
    } catch {
      // aborted
    }
    ended = true;
  })();
  return {
    events,
    get ended() {
      return ended;
    },
    /** Resolves when the server ends the stream. */
    finished: pump,
    async until(n: number) {
      const deadline = Date.now() + 5000;
      while (events.length < n && !ended) {
        if (Date.now() > deadline) throw new Error(`only ${events.length} events`);
        await new Promise((r) => setImmediate(r));
      }
      return events;
    },
    async close() {
      ac.abort();
      await pump;
    },
  };
}

const cert = (name: string, labels: Record<string, string> = {}) => ({ apiVersion: 'cert-manager.io/v1', kind: 'Certificate', metadata: { name, labels }, spec: { secretName: name } });

describe('fake API server', () => {
  it('create, conflict, update with optimistic concurrency, delete', async () => {
    fake.apply('namespaces', { metadata: { name: 'a' } });
    const created = await call('POST', CERTS, cert('x'));
    expect(created.status).toBe(201);
    expect(created.body.metadata).toMatchObject({ name: 'x', namespace: 'a', generation: 1 });
    expect(typeof created.body.metadata.uid).toBe('string');
    expect((await call('POST', CERTS, cert('x'))).body).toMatchObject({ kind: 'Status', code: 409, reason: 'AlreadyExists' });
    expect((await call('POST', CERTS, { ...cert('y'), metadata: { name: 'y', resourceVersion: '5' } })).status).toBe(400);
    expect((await call('POST', '/apis/cert-manager.io/v1/namespaces/nope/certificates', cert('x'))).body).toMatchObject({ code: 404, reason: 'NotFound', message: 'namespaces "nope" not found' });

    const rv = created.body.metadata.resourceVersion as string;
    const updated = await call('PUT', `${CERTS}/x`, { ...created.body, spec: { secretName: 'other' } });
    expect(updated.status).toBe(200);
    expect(Number(updated.body.metadata.resourceVersion)).toBeGreaterThan(Number(rv));
    expect(updated.body.metadata.generation).toBe(2);
    expect(updated.body.metadata.uid).toBe(created.body.metadata.uid);
    const stale = await call('PUT', `${CERTS}/x`, { ...created.body, spec: { secretName: 'again' } });
    expect(stale.body).toMatchObject({ code: 409, reason: 'Conflict' });
    expect((await call('PUT', `${CERTS}/missing`, cert('missing'))).status).toBe(404);

    const deleted = await call('DELETE', `${CERTS}/x`);
    expect(deleted.status).toBe(200);
    expect(deleted.body.metadata.name).toBe('x');
    expect((await call('DELETE', `${CERTS}/x`)).body).toMatchObject({ code: 404, reason: 'NotFound' });
  });

  it('keeps status on update for a kind with a status subresource', async () => {
    fake.apply('namespaces', { metadata: { name: 'a' } });
    const created = (await call('POST', CERTS, cert('x'))).body;
    fake.apply('certificates', { ...created, status: { conditions: [{ type: 'Ready' }] } } as never);
    const current = fake.get('certificates', 'a', 'x')!;
    const put = await call('PUT', `${CERTS}/x`, { ...current, status: { conditions: [] } });
    expect(put.body.status).toEqual({ conditions: [{ type: 'Ready' }] });
  });

  it('lists with the resourceVersion and filters by label selector; built-in items carry no kind', async () => {
    fake.apply('namespaces', { metadata: { name: 'a', labels: { team: 'x' } } });
    fake.apply('namespaces', { metadata: { name: 'b' } });
    fake.apply('certificates', { ...cert('c1', { own: 'yes' }), metadata: { name: 'c1', namespace: 'a', labels: { own: 'yes' } } });
    fake.apply('certificates', { ...cert('c2'), metadata: { name: 'c2', namespace: 'a' } });
    const ns = (await call('GET', '/api/v1/namespaces?labelSelector=team%3Dx')).body;
    expect(ns.kind).toBe('NamespaceList');
    expect(ns.items.map((i: any) => i.metadata.name)).toEqual(['a']);
    expect(ns.items[0].kind).toBeUndefined();
    expect(ns.metadata.resourceVersion).toBe(fake.get('certificates', 'a', 'c2')!.metadata.resourceVersion);
    const certs = (await call('GET', '/apis/cert-manager.io/v1/certificates?labelSelector=own%3Dyes')).body;
    expect(certs.items.map((i: any) => [i.kind, i.metadata.name])).toEqual([['Certificate', 'c1']]);
    expect((await call('GET', '/api/v1/namespaces?labelSelector=%3D%3D%3D')).status).toBe(400);
  });

  it('watch without a resourceVersion starts with ADDED for each object; from one, replays what came after', async () => {
    fake.apply('namespaces', { metadata: { name: 'a' } });
    const rv = fake.get('namespaces', undefined, 'a')!.metadata.resourceVersion!;
    fake.apply('namespaces', { metadata: { name: 'b' } });
    fake.remove('namespaces', undefined, 'a');
    const all = await watchAll('/api/v1/namespaces?watch=true&timeoutSeconds=0.05');
    expect(all.map((e) => `${e.type} ${e.object.metadata.name}`)).toEqual(['ADDED b']);
    const since = await watchAll(`/api/v1/namespaces?watch=1&resourceVersion=${rv}&timeoutSeconds=0.05`);
    expect(since.map((e) => `${e.type} ${e.object.metadata.name}`)).toEqual(['ADDED b', 'DELETED a']);
  });

  it('streams live events, as one JSON object per line', async () => {
    const w = await openWatch('/api/v1/namespaces?watch=true&resourceVersion=1');
    fake.apply('namespaces', { metadata: { name: 'a' } });
    fake.apply('namespaces', { metadata: { name: 'a', labels: { x: 'y' } } });
    fake.remove('namespaces', undefined, 'a');
    const events = await w.until(3);
    expect(events.map((e) => e.type)).toEqual(['ADDED', 'MODIFIED', 'DELETED']);
    expect(events[1]!.object.metadata.labels).toEqual({ x: 'y' });
    await w.close();
  });

  it('a label-selected watch sees an object leave (DELETED) and enter (ADDED) the selection', async () => {
    const w = await openWatch('/api/v1/namespaces?watch=true&resourceVersion=1&labelSelector=tlsmesh.io%2Finject%3Denabled');
    fake.apply('namespaces', { metadata: { name: 'a', labels: { 'tlsmesh.io/inject': 'enabled' } } });
    fake.apply('namespaces', { metadata: { name: 'a', labels: {} } });
    fake.apply('namespaces', { metadata: { name: 'a', labels: { 'tlsmesh.io/inject': 'enabled' } } });
    const events = await w.until(3);
    expect(events.map((e) => e.type)).toEqual(['ADDED', 'DELETED', 'ADDED']);
    // The DELETED event carries the old content at the new resourceVersion, as the cacher does.
    expect(events[1]!.object.metadata.labels).toEqual({ 'tlsmesh.io/inject': 'enabled' });
    expect(Number(events[1]!.object.metadata.resourceVersion)).toBeGreaterThan(Number(events[0]!.object.metadata.resourceVersion));
    await w.close();
  });

  it('410 Expired: an ERROR event with a Status, for open watches and for watching from compacted history', async () => {
    fake.apply('namespaces', { metadata: { name: 'a' } });
    const rv = fake.get('namespaces', undefined, 'a')!.metadata.resourceVersion!;
    const w = await openWatch(`/api/v1/namespaces?watch=true&resourceVersion=${rv}`);
    fake.apply('namespaces', { metadata: { name: 'b' } });
    await w.until(1);
    fake.expireHistory();
    const events = await w.until(2);
    expect(events.map((e) => e.type)).toEqual(['ADDED', 'ERROR']);
    expect(events[1]).toEqual(
      { type: 'ERROR', object: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', reason: 'Expired', code: 410, message: expect.stringMatching(/^too old resource version: \d+ \(\d+\)$/) } },
    );
    await w.finished; // the server ended the stream
    await w.close();
    // Watching again from where that watch was: the history is gone.
    const again = await watchAll(`/api/v1/namespaces?watch=true&resourceVersion=${rv}`);
    expect(again).toEqual([{ type: 'ERROR', object: expect.objectContaining({ code: 410, reason: 'Expired' }) }]);
    // A fresh list gives a resourceVersion that can be watched from again.
    const list = (await call('GET', '/api/v1/namespaces')).body;
    fake.apply('namespaces', { metadata: { name: 'c' } });
    const after = await watchAll(`/api/v1/namespaces?watch=true&resourceVersion=${list.metadata.resourceVersion}&timeoutSeconds=0.05`);
    expect(after.map((e) => `${e.type} ${e.object.metadata.name}`)).toEqual(['ADDED c']);
  });

  it('deleting a namespace deletes what is in it', async () => {
    fake.apply('namespaces', { metadata: { name: 'a' } });
    fake.apply('serviceaccounts', { metadata: { name: 's', namespace: 'a' } });
    expect((await call('DELETE', '/api/v1/namespaces/a')).status).toBe(200);
    expect(fake.list('serviceaccounts')).toEqual([]);
  });

  it('injected failures answer a Status with the code, then stop', async () => {
    fake.fail({ method: 'GET', path: /^\/api\/v1\/namespaces$/, status: 500, times: 2 });
    expect((await call('GET', '/api/v1/namespaces')).body).toMatchObject({ kind: 'Status', code: 500, reason: 'InternalError' });
    expect((await call('GET', '/api/v1/namespaces')).status).toBe(500);
    expect((await call('GET', '/api/v1/namespaces')).status).toBe(200);
  });

  it.each([
    ['a=b', { a: 'b' }, true],
    ['a==b', { a: 'c' }, false],
    ['a!=b', {}, true],
    ['a in (x, y),b', { a: 'y', b: '' }, true],
    ['a notin (x)', { a: 'x' }, false],
    ['!a', { a: '1' }, false],
    ['app.kubernetes.io/managed-by=tlsmesh-controller', { 'app.kubernetes.io/managed-by': 'tlsmesh-controller' }, true],
  ])('selector %s on %j: %s', (sel, labels, match) => {
    expect(parseSelector(sel)!(labels)).toBe(match);
  });
});

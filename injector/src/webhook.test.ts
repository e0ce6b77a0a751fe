import jsonpatch from 'fast-json-patch';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { defaultInjectorConfig } from './config.js';
import { createMetrics } from './metrics.js';
import { injectPod } from './sidecar.js';
import { admissionReview, container, pod } from './testing/builders.js';
import { answerReview } from './webhook.js';

const cfg = defaultInjectorConfig();
type Res = { response: { uid: string; allowed: boolean; patch?: string; patchType?: string; warnings?: string[]; status?: { code: number; message: string } } };
const answer = (review: unknown, scope: 'namespace' | 'opt-in' = 'namespace', metrics = createMetrics(new Registry())) => {
  const r = answerReview(Buffer.from(JSON.stringify(review)), scope, cfg, metrics);
  return { ...r, res: JSON.parse(r.body) as Res, metrics };
};
const patchOf = (res: Res) => JSON.parse(Buffer.from(res.response.patch!, 'base64').toString()) as jsonpatch.Operation[];
const count = async (m: ReturnType<typeof createMetrics>, name: string, labels: Record<string, string>) =>
  (await m.registry.getSingleMetric(name)!.get()).values.find((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))?.value;

describe('answerReview', () => {
  it("injects: the uid comes back, and the patch applied gives injectPod's pod", async () => {
    const p = pod({ name: 'web-abc', serviceAccountName: 'web' });
    const { res, outcome, metrics } = answer(admissionReview(p, { uid: 'uid-1', namespace: 'shop' }));
    expect(outcome).toBe('injected');
    expect(res.response).toMatchObject({ uid: 'uid-1', allowed: true, patchType: 'JSONPatch' });
    expect(jsonpatch.applyPatch(structuredClone(p), patchOf(res)).newDocument).toEqual(injectPod(p, { config: cfg, namespace: 'shop' }).pod);
    expect(await count(metrics, 'tlsmesh_injector_reviews_total', { outcome: 'injected', dry_run: 'false' })).toBe(1);
    expect(await count(metrics, 'tlsmesh_injector_patches_total', {})).toBe(1);
  });

  it('honours dryRun: the same answer (no side effects to skip), counted as dry run', async () => {
    const p = pod();
    const dry = answer(admissionReview(p, { dryRun: true }));
    expect(patchOf(dry.res)).toEqual(patchOf(answer(admissionReview(p)).res));
    expect(await count(dry.metrics, 'tlsmesh_injector_reviews_total', { outcome: 'injected', dry_run: 'true' })).toBe(1);
  });

  it.each([
    ['an UPDATE', admissionReview(pod(), { operation: 'UPDATE' })],
    ['a Deployment', admissionReview({ kind: 'Deployment' }, { kind: { group: 'apps', version: 'v1', kind: 'Deployment' }, resource: { group: 'apps', version: 'v1', resource: 'deployments' } })],
    ['a pods/ephemeralcontainers subresource', { ...admissionReview(pod()), request: { ...(admissionReview(pod()).request as object), subResource: 'ephemeralcontainers' } }],
    ['a DELETE without object', { ...admissionReview(pod()), request: { ...(admissionReview(pod()).request as object), operation: 'DELETE', object: null } }],
  ])('lets %s pass unchanged', (_n, review) => {
    const { res, outcome } = answer(review);
    expect(outcome).toBe('ignored');
    expect(res.response).toEqual({ uid: '705ab4f5-6393-11e8-b7cc-42010a800002', allowed: true });
  });

  it('skips by policy, allowed and unpatched, counting the reason', async () => {
    const { res, outcome, metrics } = answer(admissionReview(pod({ hostNetwork: true })));
    expect(outcome).toBe('skipped');
    expect(res.response.patch).toBeUndefined();
    expect(await count(metrics, 'tlsmesh_injector_skipped_total', { reason: 'host_network' })).toBe(1);
  });

  it('on /inject/opt-in injects only pods that ask for it', () => {
    expect(answer(admissionReview(pod()), 'opt-in').outcome).toBe('skipped');
    expect(answer(admissionReview(pod({ annotations: { 'tlsmesh.io/inject': 'true' } })), 'opt-in').outcome).toBe('injected');
  });

  it('denies a pod it cannot inject, naming every problem', async () => {
    const p = pod({ name: 'bad', annotations: { 'tlsmesh.io/proxy-cpu-limit': 'lots', 'tlsmesh.io/inbound-ports': 'x' } });
    const { res, outcome, metrics } = answer(admissionReview(p, { namespace: 'shop' }));
    expect(outcome).toBe('denied');
    expect(res.response).toEqual({
      uid: '705ab4f5-6393-11e8-b7cc-42010a800002',
      allowed: false,
      status: {
        code: 400,
        message:
          'tlsmesh injector: shop/Pod/bad: tlsmesh.io/proxy-cpu-limit: expected a Kubernetes quantity like 100m or 64Mi, got "lots"; tlsmesh.io/inbound-ports: expected all or comma-separated ports, got "x"',
      },
    });
    expect(await count(metrics, 'tlsmesh_injector_errors_total', { reason: 'inject_error' })).toBe(1);
  });

  it('passes injection warnings to the API server (kubectl shows them)', () => {
    const p = pod({ containers: [container('app', { readinessProbe: { httpGet: { host: 'example.com', port: 80 } } })], annotations: { 'tlsmesh.io/colour': 'x' } });
    expect(answer(admissionReview(p)).res.response.warnings).toEqual([
      'tlsmesh: tlsmesh.io/colour: unknown annotation',
      'tlsmesh: container app readinessProbe: not rewritten: it probes host example.com, not the pod',
    ]);
  });

  it('names a generateName pod by its prefix', () => {
    const p = pod();
    delete p.metadata!.name;
    p.metadata!.generateName = 'web-7d9f-';
    expect(answer(admissionReview(p, { namespace: 'shop' })).detail).toBe('shop/Pod/web-7d9f-*: injected');
  });
});

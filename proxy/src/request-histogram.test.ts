import { Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createMetrics } from './metrics.js';
import { LabelledHistogram } from './request-histogram.js';

const BOUNDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

// Values on the bucket bounds, between them, past the last one and zero.
const SAMPLES: [string, number][] = [
  ['inbound', 0],
  ['inbound', 0.0005],
  ['inbound', 0.0007],
  ['inbound', 0.01],
  ['inbound', 0.3],
  ['inbound', 42],
  ['outbound', 0.002],
  ['outbound', 0.002],
  ['outbound', 10],
];

describe('the request-duration histogram', () => {
  it("exposes exactly what prom-client's Histogram exposes for the same observations", async () => {
    const theirs = new Registry();
    const h = new Histogram({ name: 'd_seconds', help: 'how long', labelNames: ['direction'], buckets: BOUNDS, registers: [theirs] });
    const ours = new Registry();
    const l = new LabelledHistogram('d_seconds', 'how long', 'direction', ['inbound', 'outbound'], BOUNDS, ours);
    expect(await ours.metrics()).toBe(await theirs.metrics()); // nothing observed: no series
    for (const [d, v] of SAMPLES) {
      h.labels(d).observe(v);
      l.labels(d as 'inbound').observe(v);
    }
    const text = await ours.metrics();
    expect(text).toBe(await theirs.metrics());
    expect(text).toContain('d_seconds_bucket{le="0.0005",direction="inbound"} 2\n');
    expect(text).toContain('d_seconds_count{direction="outbound"} 3\n');
    expect(await ours.getMetricsAsJSON()).toEqual(await theirs.getMetricsAsJSON());
    ours.resetMetrics();
    theirs.resetMetrics();
    expect(await ours.metrics()).toBe(await theirs.metrics());
  });

  it('refuses a label value it was not made with', () => {
    const l = new LabelledHistogram('x_seconds', 'x', 'direction', ['inbound'], BOUNDS, new Registry());
    expect(() => l.labels('sideways' as 'inbound')).toThrow(/no series for direction="sideways"/);
  });
});

describe('requests counted by code', () => {
  it('shows every request at each scrape, counted once', async () => {
    const registry = new Registry();
    const m = createMetrics(registry, { defaultMetrics: false });
    m.request('inbound', 200, 0.001);
    m.request('inbound', 200, 0.002);
    m.request('outbound', 502, 0.5);
    let text = await registry.metrics();
    expect(text).toContain('tlsmesh_requests_total{direction="inbound",code="200"} 2\n');
    expect(text).toContain('tlsmesh_requests_total{direction="outbound",code="502"} 1\n');
    expect(text).toContain('tlsmesh_request_duration_seconds_count{direction="inbound"} 2\n');
    m.request('inbound', 200, 0.001);
    text = await registry.metrics();
    expect(text).toContain('tlsmesh_requests_total{direction="inbound",code="200"} 3\n');
    expect(text).toContain('tlsmesh_requests_total{direction="outbound",code="502"} 1\n');
    expect(text).not.toContain('code="404"');
  });
});

import { describe, expect, it } from 'vitest';
import { rewritePrometheus } from './prometheus.js';
import { container } from './testing/builders.js';

const cs = [container('app', { ports: [{ containerPort: 8000 }] })];

describe('rewritePrometheus', () => {
  it('does nothing without prometheus.io/scrape: "true"', () => {
    expect(rewritePrometheus({ 'prometheus.io/port': '9090' }, cs, 15020)).toBeUndefined();
    expect(rewritePrometheus({ 'prometheus.io/scrape': 'false' }, cs, 15020)).toBeUndefined();
  });

  it('points port and path at the merged endpoint and records the originals, keeping key order', () => {
    const r = rewritePrometheus({ a: '1', 'prometheus.io/scrape': 'true', 'prometheus.io/port': '9090', 'prometheus.io/path': '/m' }, cs, 15020)!;
    expect(r.annotations).toEqual({
      a: '1',
      'prometheus.io/scrape': 'true',
      'prometheus.io/port': '15020',
      'prometheus.io/path': '/stats/prometheus',
      'tlsmesh.io/prometheus-original-port': '9090',
      'tlsmesh.io/prometheus-original-path': '/m',
    });
    expect(Object.keys(r.annotations)).toEqual(['a', 'prometheus.io/scrape', 'prometheus.io/port', 'prometheus.io/path', 'tlsmesh.io/prometheus-original-port', 'tlsmesh.io/prometheus-original-path']);
    expect(r.appMetrics).toBe('http://127.0.0.1:9090/m');
  });

  it('defaults to the first TCP container port and /metrics', () => {
    const r = rewritePrometheus({ 'prometheus.io/scrape': 'true' }, [container('a', { ports: [{ containerPort: 53, protocol: 'UDP' }, { containerPort: 8000 }] })], 15020)!;
    expect(r.appMetrics).toBe('http://127.0.0.1:8000/metrics');
  });

  it('serves only the proxy metrics when the app declares no port', () => {
    const r = rewritePrometheus({ 'prometheus.io/scrape': 'true' }, [container('a')], 15020)!;
    expect(r.appMetrics).toBeUndefined();
    expect(r.annotations['prometheus.io/port']).toBe('15020');
  });

  it('keeps the app on https when it was scraped over https, and Prometheus on http', () => {
    const r = rewritePrometheus({ 'prometheus.io/scrape': 'true', 'prometheus.io/port': '8443', 'prometheus.io/scheme': 'https' }, cs, 15020)!;
    expect(r.appMetrics).toBe('https://127.0.0.1:8443/metrics');
    expect(r.annotations['prometheus.io/scheme']).toBe('http');
    expect(r.annotations['tlsmesh.io/prometheus-original-scheme']).toBe('https');
  });

  it('is stable when run on its own output (the originals win)', () => {
    const first = rewritePrometheus({ 'prometheus.io/scrape': 'true', 'prometheus.io/port': '9090' }, cs, 15020)!;
    const second = rewritePrometheus(first.annotations, cs, 15020)!;
    expect(second.annotations).toEqual(first.annotations);
    expect(second.appMetrics).toBe(first.appMetrics);
  });

  it('warns about a port that is not a port', () => {
    const r = rewritePrometheus({ 'prometheus.io/scrape': 'true', 'prometheus.io/port': 'metrics' }, cs, 15020)!;
    expect(r.appMetrics).toBeUndefined();
    expect(r.warnings).toEqual(['prometheus.io/port: "metrics" is not a port; only the sidecar\'s metrics are served']);
  });
});

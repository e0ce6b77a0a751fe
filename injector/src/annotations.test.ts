import { describe, expect, it } from 'vitest';
import { POD_ANNOTATIONS, readPodOptions } from './annotations.js';

const PIN = 'sha256/Cgv5VxyrqHGD1SvBo0AaGv94LtMyvE+Dz3pFU3U3qLQ=';

describe('readPodOptions', () => {
  it.each([
    ['tlsmesh.io/sidecar-mode', 'container', { mode: 'container' }],
    ['tlsmesh.io/proxy-image', 'r.example.com/tlsmesh@sha256:abc', { image: 'r.example.com/tlsmesh@sha256:abc' }],
    ['tlsmesh.io/proxy-log-level', 'debug', { logLevel: 'debug' }],
    ['tlsmesh.io/proxy-access-log', 'all', { accessLog: 'all' }],
    ['tlsmesh.io/proxy-cpu-request', '250m', { cpuRequest: '250m' }],
    ['tlsmesh.io/proxy-memory-limit', '1.5Gi', { memoryLimit: '1.5Gi' }],
    ['tlsmesh.io/inbound-ports', 'all', { inboundPorts: 'all' }],
    ['tlsmesh.io/inbound-ports', '80, 443,80', { inboundPorts: [80, 443] }],
    ['tlsmesh.io/exclude-inbound-ports', '', { excludeInboundPorts: [] }],
    ['tlsmesh.io/exclude-outbound-cidrs', '10.0.0.0/8,fd00::/8', { excludeOutboundCidrs: ['10.0.0.0/8', 'fd00::/8'] }],
    ['tlsmesh.io/allow', 'spiffe://td/ns/a/sa/b, spiffe://td/ns/m/*', { allow: ['spiffe://td/ns/a/sa/b', 'spiffe://td/ns/m/*'] }],
    ['tlsmesh.io/pins', PIN, { pins: [PIN] }],
    ['tlsmesh.io/rewrite-probes', 'false', { rewriteProbes: false }],
    ['tlsmesh.io/prometheus-merge', 'true', { prometheusMerge: true }],
  ])('%s: %j', (key, value, want) => {
    expect(readPodOptions({ [key]: value })).toEqual({ options: want, errors: [], warnings: [] });
  });

  it.each([
    ['tlsmesh.io/sidecar-mode', 'sidecar', 'tlsmesh.io/sidecar-mode: expected one of native, container, got "sidecar"'],
    ['tlsmesh.io/proxy-cpu-limit', 'lots', 'tlsmesh.io/proxy-cpu-limit: expected a Kubernetes quantity like 100m or 64Mi, got "lots"'],
    ['tlsmesh.io/inbound-ports', '80,http', 'tlsmesh.io/inbound-ports: expected all or comma-separated ports, got "80,http"'],
    ['tlsmesh.io/exclude-outbound-ports', '0', 'tlsmesh.io/exclude-outbound-ports: expected comma-separated ports 1-65535, got "0"'],
    ['tlsmesh.io/exclude-outbound-cidrs', '10.0.0.1', 'tlsmesh.io/exclude-outbound-cidrs: expected comma-separated CIDRs like 10.0.0.0/8, got "10.0.0.1"'],
    ['tlsmesh.io/allow', 'spiffe://td/ns/*/sa/x', 'tlsmesh.io/allow: "spiffe://td/ns/*/sa/x" is not a SPIFFE ID or ID/* pattern: a wildcard may only be a trailing /*'],
    ['tlsmesh.io/pins', 'sha1/abc', 'tlsmesh.io/pins: "sha1/abc": expected sha256/ followed by 44 characters of base64 (a SHA-256 digest)'],
    ['tlsmesh.io/rewrite-probes', 'yes', 'tlsmesh.io/rewrite-probes: expected "true" or "false", got "yes"'],
  ])('%s: %j is refused', (key, value, error) => {
    expect(readPodOptions({ [key]: value }).errors).toEqual([error]);
  });

  it('reports every bad annotation at once', () => {
    const r = readPodOptions({
      'tlsmesh.io/sidecar-mode': 'x',
      'tlsmesh.io/proxy-log-level': 'loud',
      'tlsmesh.io/exclude-inbound-ports': '99999',
      'tlsmesh.io/inbound-tls': 'mutual',
    });
    expect(r.errors.map((e) => e.split(':')[0])).toEqual(['tlsmesh.io/sidecar-mode', 'tlsmesh.io/proxy-log-level', 'tlsmesh.io/exclude-inbound-ports']);
    expect(r.options).toEqual({ inboundTls: 'mutual' });
  });

  it('warns about unknown tlsmesh.io annotations, suggesting the near one, and ignores other prefixes', () => {
    const r = readPodOptions({ 'tlsmesh.io/exclude-inbound-port': '80', 'tlsmesh.io/colour': 'blue', 'example.com/x': 'y', 'tlsmesh.io/status': '{}' });
    expect(r.errors).toEqual([]);
    expect(r.warnings).toEqual([
      'tlsmesh.io/exclude-inbound-port: unknown annotation (did you mean tlsmesh.io/exclude-inbound-ports?)',
      'tlsmesh.io/colour: unknown annotation',
    ]);
  });

  it('refuses a non-string value (hand-written JSON)', () => {
    expect(readPodOptions({ 'tlsmesh.io/rewrite-probes': false as unknown as string }).errors).toEqual(['tlsmesh.io/rewrite-probes: expected a string value']);
  });
});

describe('docs/injector.md', () => {
  it('lists exactly the annotations of the table', async () => {
    const { readFileSync } = await import('node:fs');
    const doc = readFileSync(new URL('../../docs/injector.md', import.meta.url), 'utf8');
    const section = doc.split('## Pod annotations')[1]?.split('\n## ')[0] ?? '';
    const listed = [...section.matchAll(/^\| `(tlsmesh\.io\/[a-z-]+)`/gm)].map((m) => m[1]);
    expect(listed.filter((k) => k !== 'tlsmesh.io/inject').sort()).toEqual(Object.keys(POD_ANNOTATIONS).sort());
  });
});

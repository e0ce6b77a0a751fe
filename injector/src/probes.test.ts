import { describe, expect, it } from 'vitest';
import { resolvePort, rewriteProbes } from './probes.js';
import type { Probe } from './k8s.js';
import { container } from './testing/builders.js';

const ports = [
  { name: 'http', containerPort: 8080 },
  { name: 'admin', containerPort: 9901 },
];

describe('rewriteProbes', () => {
  it('moves an httpGet probe to the admin port and keeps everything else in place', () => {
    const c = container('api', {
      ports,
      livenessProbe: { initialDelaySeconds: 3, httpGet: { path: '/live', port: 'admin', scheme: 'HTTPS', httpHeaders: [{ name: 'X', value: 'y' }] }, timeoutSeconds: 4 },
    });
    const r = rewriteProbes([c], 15020);
    expect(r.containers[0]!.livenessProbe).toEqual({ initialDelaySeconds: 3, httpGet: { path: '/app-health/api/livez', port: 15020, scheme: 'HTTP' }, timeoutSeconds: 4 });
    expect(Object.keys(r.containers[0]!.livenessProbe!)).toEqual(['initialDelaySeconds', 'httpGet', 'timeoutSeconds']);
    expect(r.appProbes).toEqual({ 'api/livez': { httpGet: { port: 9901, path: '/live', scheme: 'HTTPS', httpHeaders: [{ name: 'X', value: 'y' }] }, timeoutSeconds: 4 } });
    expect(c.livenessProbe!.httpGet!.port).toBe('admin'); // input untouched
  });

  it('turns tcpSocket probes into httpGet, one entry per probe kind', () => {
    const c = container('db', { ports, readinessProbe: { tcpSocket: { port: 8080 } }, startupProbe: { httpGet: { port: 8080 } } });
    const r = rewriteProbes([c], 15020);
    expect(r.containers[0]!.readinessProbe).toEqual({ httpGet: { path: '/app-health/db/readyz', port: 15020, scheme: 'HTTP' } });
    expect(r.appProbes).toEqual({
      'db/readyz': { tcpSocket: { port: 8080 }, timeoutSeconds: 1 },
      'db/startupz': { httpGet: { port: 8080, path: '/', scheme: 'HTTP' }, timeoutSeconds: 1 },
    });
  });

  it('turns grpc probes into httpGet, keeping the service name', () => {
    const c = container('g', { livenessProbe: { grpc: { port: 9000, service: 'liveness' }, periodSeconds: 3 }, readinessProbe: { grpc: { port: 9000 } } });
    const r = rewriteProbes([c], 15020);
    expect(r.containers[0]!.livenessProbe).toEqual({ httpGet: { path: '/app-health/g/livez', port: 15020, scheme: 'HTTP' }, periodSeconds: 3 });
    expect(r.appProbes).toEqual({
      'g/livez': { grpc: { port: 9000, service: 'liveness' }, timeoutSeconds: 1 },
      'g/readyz': { grpc: { port: 9000 }, timeoutSeconds: 1 },
    });
  });

  it.each([
    ['exec', { exec: { command: ['true'] } }, []],
    ['grpc with a port that is not a number', { grpc: { port: 'grpc' } }, ['container c livenessProbe: not rewritten: grpc port "grpc" is not a port number']],
    ['another host', { httpGet: { host: 'example.com', port: 80 } }, ['container c livenessProbe: not rewritten: it probes host example.com, not the pod']],
    ['an unknown named port', { tcpSocket: { port: 'nope' } }, ['container c livenessProbe: not rewritten: port "nope" is not a port of the container']],
  ])('leaves %s probes alone', (_n, probe, warnings) => {
    // The table holds probes the k8s types refuse (a grpc port that is a name): as the API server would pass them on.
    const c = container('c', { ports, livenessProbe: probe as Probe });
    const r = rewriteProbes([c], 15020);
    expect(r.containers[0]).toBe(c);
    expect(r.appProbes).toEqual({});
    expect(r.warnings).toEqual(warnings);
  });
});

describe('resolvePort', () => {
  const c = container('c', { ports });
  it.each([
    [8080, 8080],
    ['admin', 9901],
    ['8081', 8081],
    ['nope', undefined],
    [0, undefined],
    [70000, undefined],
    [null, undefined],
  ])('%j -> %j', (port, want) => expect(resolvePort(c, port)).toBe(want));
});

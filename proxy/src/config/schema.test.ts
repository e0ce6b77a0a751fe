import { describe, expect, it } from 'vitest';
import { ConfigError } from '../errors.js';
import { parseConfig, parseYaml } from './load.js';
import { proxyConfigSchema } from './schema.js';

const base = { trustDomain: 'cluster.local', identity: { dir: '/var/run/secrets/tlsmesh' } };

function errorOf(input: unknown): string {
  try {
    parseConfig(input, proxyConfigSchema);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('proxy config', () => {
  it('applies the defaults and freezes the result', () => {
    const cfg = parseConfig({ ...base, inbound: [{ listen: '0.0.0.0:15006', forward: '127.0.0.1:8080' }] }, proxyConfigSchema);
    expect(cfg.drainSeconds).toBe(5);
    expect(cfg.minTlsVersion).toBe('1.3');
    expect(cfg.accessLog).toBe('errors');
    expect(cfg.admin.listen).toEqual({ host: '127.0.0.1', port: 15020 });
    expect(cfg.inbound[0]).toMatchObject({ forward: { host: '127.0.0.1', port: 8080 }, protocol: 'tcp', tls: 'mutual' });
    expect(Object.isFrozen(cfg.inbound[0])).toBe(true);
  });

  it('takes the contract example as written', () => {
    const text = `
trustDomain: cluster.local
drainSeconds: 5
identity:
  dir: /var/run/secrets/tlsmesh
  trustBundle: /etc/tlsmesh/bundle.pem
admin:
  listen: 127.0.0.1:15020
  appMetrics: http://127.0.0.1:9090/metrics
inbound:
  - listen: 0.0.0.0:15006
    forward: 127.0.0.1:8080
    protocol: http
    tls: mutual
    allow:
      - spiffe://cluster.local/ns/default/sa/frontend
      - spiffe://cluster.local/ns/monitoring/*
    pins: [ "sha256/${Buffer.alloc(32, 1).toString('base64')}" ]
outbound:
  - listen: 127.0.0.1:15001
    connect: original
    protocol: tcp
    serverName: backend.default.svc
    expect: [ spiffe://cluster.local/ns/default/sa/backend ]
    meshNetworks: [ 10.0.0.0/8 ]
`;
    const cfg = parseConfig(parseYaml(text), proxyConfigSchema);
    expect(cfg.outbound[0]!.connect).toBe('original');
    expect(cfg.inbound[0]!.allow).toHaveLength(2);
  });

  it.each([
    ['a bad forward', { ...base, inbound: [{ listen: '0.0.0.0:15006', forward: 'localhost' }] }, 'config: inbound[0].forward: expected host:port or original'],
    ['a port out of range', { ...base, inbound: [{ listen: '0.0.0.0:70000', forward: '127.0.0.1:1' }] }, 'config: inbound[0].listen: expected host:port'],
    ['an unknown field', { ...base, inbound: [{ listen: '0.0.0.0:1', forward: '127.0.0.1:1', frobnicate: 1 }] }, 'config: inbound[0].frobnicate: unknown field'],
    ['an unknown top-level field', { ...base, extra: true }, 'config: extra: unknown field'],
    ['a wrong type', { ...base, drainSeconds: 'five' }, 'config: drainSeconds: expected number'],
    ['a missing trust domain', { identity: base.identity }, 'config: trustDomain: required (string)'],
    ['a bad enum', { ...base, inbound: [{ listen: '0.0.0.0:1', forward: '127.0.0.1:1', tls: 'optional' }] }, 'config: inbound[0].tls: expected one of mutual, server, permissive'],
    ['a bad accessLog', { ...base, accessLog: 'verbose' }, 'config: accessLog: expected one of all, errors, off'],
    ['a bad allow entry', { ...base, inbound: [{ listen: '0.0.0.0:1', forward: '127.0.0.1:1', allow: ['spiffe://td/ns/*/sa'] }] }, 'config: inbound[0].allow[0]: invalid SPIFFE ID pattern: a wildcard may only be a trailing /*'],
    ['a bad pin', { ...base, outbound: [{ listen: '127.0.0.1:1', connect: '10.0.0.1:1', pins: ['md5/xyz'] }] }, 'config: outbound[0].pins[0]: expected sha256/ followed by 44 characters of base64 (a SHA-256 digest)'],
    ['meshNetworks without original', { ...base, outbound: [{ listen: '127.0.0.1:1', connect: '10.0.0.1:1', meshNetworks: ['10.0.0.0/8'] }] }, 'config: outbound[0].meshNetworks: only meaningful with connect: original'],
    ['multiplex on an offload listener', { ...base, inbound: [{ listen: '0.0.0.0:1', forward: '127.0.0.1:1', tls: 'server', multiplex: true }] }, 'config: inbound[0].multiplex: only meaningful with tls: mutual or permissive'],
    ['a multiplex that is not a boolean', { ...base, inbound: [{ listen: '0.0.0.0:1', forward: '127.0.0.1:1', multiplex: 'yes' }] }, 'config: inbound[0].multiplex: expected boolean'],
    ['a bad CIDR', { ...base, outbound: [{ listen: '127.0.0.1:1', connect: 'original', meshNetworks: ['10.0.0.0/33'] }] }, 'config: outbound[0].meshNetworks[0]: expected a CIDR like 10.0.0.0/8'],
  ])('%s', (_name, input, message) => {
    expect(errorOf(input)).toBe(message);
  });

  it('reports every problem on one line, the first one first', () => {
    const msg = errorOf({ ...base, drainSeconds: 'x', inbound: [{ listen: 'nope', forward: '127.0.0.1:1' }] });
    expect(msg).toBe('config: drainSeconds: expected number (and 1 more: inbound[0].listen)');
    expect(msg).not.toContain('\n');
  });

  it('names the line of invalid YAML', () => {
    expect(() => parseYaml('a: 1\nb: [\n')).toThrow(/config: invalid YAML at line \d/);
    expect(() => parseYaml('a: 1\na: 2\n')).toThrow(/config: invalid YAML at line 2: Map keys must be unique/);
  });
});

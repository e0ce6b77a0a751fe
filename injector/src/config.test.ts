import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../proxy/src/errors.js';
import { defaultInjectorConfig, parseInjectorConfig, requireServingTls, secretNameFor } from './config.js';

describe('injector config', () => {
  it('has defaults for everything but the serving certificate', () => {
    const c = defaultInjectorConfig();
    expect(c.listen).toEqual({ host: '0.0.0.0', port: 9443 });
    expect(c.trustDomain).toBe('cluster.local');
    expect(c.sidecar).toMatchObject({ image: 'tlsmesh:latest', mode: 'native' });
    expect(c.identity).toMatchObject({ secretNameTemplate: 'tlsmesh-svid-{serviceAccount}', mountPath: '/var/run/secrets/tlsmesh', source: 'secret' });
    expect(c.capture.inboundPorts).toBe('all');
    expect(Object.isFrozen(c.sidecar)).toBe(true);
    expect(() => requireServingTls(c)).toThrow(new ConfigError('tls.dir', 'required (the webhook serves HTTPS)'));
  });

  it("accepts the contract's example", () => {
    const c = parseInjectorConfig({ listen: '0.0.0.0:9443', tls: { dir: '/var/run/secrets/tlsmesh-injector' }, trustDomain: 'cluster.local', sidecar: { image: 'tlsmesh:latest' } });
    expect(requireServingTls(c)).toEqual({ dir: '/var/run/secrets/tlsmesh-injector', pollSeconds: 10 });
  });

  it.each([
    [{ listen: 'nope' }, 'config: listen: expected host:port'],
    [{ trustDomain: 'Bad.Domain' }, 'config: trustDomain: invalid trust domain: may hold only a-z 0-9 . - _'],
    [{ sidecar: { image: 'x', mode: 'sidecar' } }, 'config: sidecar.mode: expected one of native, container'],
    [{ sidecar: { image: 'x', resources: { limits: { cpu: 'lots' } } } }, 'config: sidecar.resources.limits.cpu: expected a Kubernetes quantity like 100m or 64Mi, got "lots"'],
    [{ identity: { secretNameTemplate: 'svid-{sa}' } }, 'config: identity.secretNameTemplate: unknown placeholder {sa} (use {serviceAccount} or {namespace})'],
    [{ identity: { secretNameTemplate: 'SVID_{serviceAccount}' } }, 'config: identity.secretNameTemplate: expected lower-case letters, digits, - and . around the placeholders'],
    [{ capture: { excludeOutboundPorts: [0] } }, 'config: capture.excludeOutboundPorts[0]: expected a port 1-65535'],
    [{ inbound: { allow: ['spiffe://x/*/y'] } }, 'config: inbound.allow[0]: invalid SPIFFE ID pattern: a wildcard may only be a trailing /*'],
    [{ sidecars: {} }, 'config: sidecars: unknown field'],
  ])('%j -> %s', (input, message) => {
    expect(() => parseInjectorConfig(input)).toThrow(message);
  });
});

describe('secretNameFor', () => {
  it.each([
    ['tlsmesh-svid-{serviceAccount}', 'tlsmesh-svid-web'],
    ['{namespace}.{serviceAccount}', 'shop.web'],
    ['fixed', 'fixed'],
  ])('%s', (template, want) => expect(secretNameFor(template, 'web', 'shop')).toBe(want));
});

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../../proxy/src/errors.js';
import { loadControllerConfig, type SharedSettings } from './config.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tlsmesh-controller-config-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const SHARED: SharedSettings = { trustDomain: 'cluster.local', secretNameTemplate: 'tlsmesh-svid-{serviceAccount}', ignoredNamespaces: ['kube-system'], identitySource: 'secret' };

function load(yaml: string, shared: SharedSettings | Error = SHARED) {
  const file = join(dir, 'controller.yaml');
  writeFileSync(file, yaml);
  let asked: string | undefined;
  const settings = loadControllerConfig(file, (f) => {
    asked = f;
    if (shared instanceof Error) throw shared;
    return shared;
  });
  return { settings, asked };
}

function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.message;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('controller config', () => {
  it('defaults: a one-day ECDSA SVID renewed 8 hours ahead, from the tlsmesh-ca ClusterIssuer', () => {
    const { settings, asked } = load('injectorConfig: injector.yaml\n');
    expect(asked).toBe(join(dir, 'injector.yaml'));
    expect(settings.policy).toEqual({
      trustDomain: 'cluster.local',
      secretNameTemplate: 'tlsmesh-svid-{serviceAccount}',
      ignoredNamespaces: ['kube-system'],
      issueCertificates: true,
      issuerRef: { name: 'tlsmesh-ca', kind: 'ClusterIssuer', group: 'cert-manager.io' },
      duration: '24h0m0s',
      renewBefore: '8h0m0s',
    });
    expect(settings.backoff).toEqual({ initialMs: 500, maxMs: 60_000, jitter: 0.2 });
    expect(settings.config.admin.listen).toEqual({ host: '0.0.0.0', port: 15020 });
    expect(Object.isFrozen(settings.config)).toBe(true);
  });

  it('reads its own fields and the shared ones from the injector config', () => {
    const { settings } = load('injectorConfig: /etc/tlsmesh/injector.yaml\nduration: 2d\nrenewBefore: 12h\nissuerRef: {name: vault, kind: Issuer}\n', {
      ...SHARED,
      trustDomain: 'prod.example',
      identitySource: 'csi',
    });
    expect(settings.policy).toMatchObject({ trustDomain: 'prod.example', issueCertificates: false, duration: '48h0m0s', renewBefore: '12h0m0s', issuerRef: { name: 'vault', kind: 'Issuer', group: 'cert-manager.io' } });
  });

  it.each([
    ['duration: 24h\n', 'config: injectorConfig: required (string)'],
    ['injectorConfig: x\nduration: 30m\n', 'config: duration: must be at least 1h (cert-manager refuses less) (and 1 more: renewBefore)'],
    ['injectorConfig: x\nduration: soon\n', 'config: duration: expected a whole number of seconds, minutes, hours or days, like 24h or 90d'],
    ['injectorConfig: x\nrenewBefore: 1m\n', 'config: renewBefore: must be at least 5m (cert-manager refuses less)'],
    ['injectorConfig: x\nduration: 2h\nrenewBefore: 2h\n', 'config: renewBefore: must be shorter than duration'],
    ['injectorConfig: x\nissuerRef: {nmae: x}\n', 'config: issuerRef.nmae: unknown field'],
    ['injectorConfig: x\nadmin: {listen: nowhere}\n', 'config: admin.listen: expected host:port'],
    ['injectorConfig: x\nresyncSeconds: 0\n', 'config: resyncSeconds: expected a number of seconds >= 1'],
  ])('%j -> %s', (yaml, message) => {
    expect(errorOf(() => load(yaml))).toBe(message);
  });

  it("names the injector config and its field when that file is wrong", () => {
    expect(errorOf(() => load('injectorConfig: injector.yaml\n', new ConfigError('trustDomain', 'invalid trust domain: empty')))).toBe(
      `config: injectorConfig: ${join(dir, 'injector.yaml')}: trustDomain: invalid trust domain: empty`,
    );
  });

  it('refuses a secretNameTemplate that would give one Secret to several ServiceAccounts', () => {
    expect(errorOf(() => load('injectorConfig: x\n', { ...SHARED, secretNameTemplate: 'svid-{namespace}' }))).toBe(
      'config: injectorConfig: identity.secretNameTemplate: must contain {serviceAccount} for the certificate controller',
    );
  });
});

import { describe, expect, it } from 'vitest';
import { defaultInjectorConfig } from './config.js';
import { InjectError } from './errors.js';
import { shouldInject } from './policy.js';
import { container, pod } from './testing/builders.js';

const cfg = defaultInjectorConfig();
const enabled = { name: 'shop', labels: { 'tlsmesh.io/inject': 'enabled' } };
const plain = { name: 'shop', labels: {} };
const disabled = { name: 'shop', labels: { 'tlsmesh.io/inject': 'disabled' } };

describe('shouldInject', () => {
  it.each([
    ['namespace enabled', pod(), enabled, { inject: true }],
    ['pod opts in, namespace unlabelled', pod({ annotations: { 'tlsmesh.io/inject': 'true' } }), plain, { inject: true }],
    ['pod opts in, namespace enabled', pod({ annotations: { 'tlsmesh.io/inject': 'true' } }), enabled, { inject: true }],
    ['nobody opted in', pod(), plain, 'not_opted_in'],
    ['pod opts out in an enabled namespace', pod({ annotations: { 'tlsmesh.io/inject': 'false' } }), enabled, 'pod_opt_out'],
    ['namespace disabled beats pod opt-in', pod({ annotations: { 'tlsmesh.io/inject': 'true' } }), disabled, 'namespace_disabled'],
    ['hostNetwork', pod({ hostNetwork: true, annotations: { 'tlsmesh.io/inject': 'true' } }), enabled, 'host_network'],
    ['status annotation', pod({ annotations: { 'tlsmesh.io/status': '{}' } }), enabled, 'already_injected'],
    ['proxy container present', pod({ initContainers: [container('tlsmesh-proxy')] }), enabled, 'already_injected'],
    ['ignored namespace', pod({ annotations: { 'tlsmesh.io/inject': 'true' } }), { name: 'kube-system', labels: enabled.labels }, 'ignored_namespace'],
  ] as const)('%s', (_name, p, ns, want) => {
    const d = shouldInject(p, ns, cfg);
    if (typeof want === 'string') expect(d).toMatchObject({ inject: false, reason: want });
    else expect(d).toEqual(want);
  });

  it('says why in words', () => {
    expect(shouldInject(pod({ hostNetwork: true }), enabled, cfg)).toEqual({ inject: false, reason: 'host_network', detail: 'the pod uses the host network' });
  });

  it('refuses an inject annotation that is neither true nor false', () => {
    expect(() => shouldInject(pod({ annotations: { 'tlsmesh.io/inject': 'enabled' } }), enabled, cfg)).toThrow(
      new InjectError(['tlsmesh.io/inject: expected "true" or "false", got "enabled"']),
    );
  });
});

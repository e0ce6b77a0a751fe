import { describe, expect, it } from 'vitest';
import { parseConfig, parseYaml } from '../../proxy/src/config/index.js';
import { proxyConfigSchema } from '../../proxy/src/config/schema.js';
import { defaultInjectorConfig, parseInjectorConfig } from './config.js';
import { InjectError } from './errors.js';
import type { Container, PodLike } from './k8s.js';
import { injectPod } from './sidecar.js';
import { container, pod } from './testing/builders.js';
import { validateObject } from '../../test/support/k8s-validate.js';

const cfg = defaultInjectorConfig();
const ctx = { config: cfg, namespace: 'shop' };
const byName = (cs: Container[] | undefined, name: string) => cs?.find((c) => c.name === name);
const proxyConfigOf = (p: PodLike) => parseConfig(parseYaml(p.metadata!.annotations!['tlsmesh.io/proxy-config']!), proxyConfigSchema);

describe('injectPod', () => {
  it('adds the init step and a native sidecar in front of the user init containers, and leaves the input alone', async () => {
    const input = pod({ serviceAccountName: 'web', initContainers: [container('setup')] });
    const before = structuredClone(input);
    const { pod: out } = injectPod(input, ctx);
    expect(input).toEqual(before);
    expect(out.spec!.initContainers!.map((c) => c.name)).toEqual(['tlsmesh-init', 'tlsmesh-proxy', 'setup']);
    expect(out.spec!.containers).toEqual(input.spec!.containers);
    expect(byName(out.spec!.initContainers, 'tlsmesh-proxy')!.restartPolicy).toBe('Always');
    expect(out.spec!.volumes).toEqual([
      { name: 'tlsmesh-identity', secret: { secretName: 'tlsmesh-svid-web' } },
      { name: 'tlsmesh-config', downwardAPI: { items: [{ path: 'config.yaml', fieldRef: { fieldPath: "metadata.annotations['tlsmesh.io/proxy-config']" } }] } },
    ]);
    expect(JSON.parse(out.metadata!.annotations!['tlsmesh.io/status']!)).toEqual({
      mode: 'native',
      initContainers: ['tlsmesh-init', 'tlsmesh-proxy'],
      containers: [],
      volumes: ['tlsmesh-identity', 'tlsmesh-config'],
    });
    expect(await validateObject(out)).toEqual([]);
  });

  it('gives the proxy the security context of a sidecar, and the init step NET_ADMIN and NET_RAW only', () => {
    const { pod: out } = injectPod(pod(), ctx);
    expect(byName(out.spec!.initContainers, 'tlsmesh-proxy')!.securityContext).toEqual({
      runAsUser: 1337,
      runAsGroup: 1337,
      runAsNonRoot: true,
      privileged: false,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    const init = byName(out.spec!.initContainers, 'tlsmesh-init')!;
    expect(init.securityContext).toMatchObject({ runAsUser: 0, privileged: false, allowPrivilegeEscalation: false, capabilities: { add: ['NET_ADMIN', 'NET_RAW'], drop: ['ALL'] } });
    expect(init.args).toEqual(['init', '--inbound-port', '15006', '--outbound-port', '15001', '--proxy-uid', '1337', '--inbound-ports', 'all']);
  });

  it('mounts identity and config read-only where the proxy config points, with downward-API env', () => {
    const { pod: out } = injectPod(pod(), ctx);
    const proxy = byName(out.spec!.initContainers, 'tlsmesh-proxy')!;
    expect(proxy.args).toEqual(['proxy', '--config', '/etc/tlsmesh/proxy/config.yaml']);
    expect(proxy.volumeMounts).toEqual([
      { name: 'tlsmesh-identity', mountPath: '/var/run/secrets/tlsmesh', readOnly: true },
      { name: 'tlsmesh-config', mountPath: '/etc/tlsmesh/proxy', readOnly: true },
    ]);
    expect((proxy.env as { name: string }[]).map((e) => e.name)).toEqual(['POD_NAME', 'POD_NAMESPACE', 'SERVICE_ACCOUNT']);
    const pc = proxyConfigOf(out);
    expect(pc.identity.dir).toBe('/var/run/secrets/tlsmesh');
    expect(pc.admin.listen).toEqual({ host: '0.0.0.0', port: 15020 });
    expect(pc.inbound).toMatchObject([{ listen: { host: '0.0.0.0', port: 15006 }, forward: 'original', tls: 'mutual' }]);
    expect(pc.outbound).toMatchObject([{ listen: { host: '127.0.0.1', port: 15001 }, connect: 'original' }]);
  });

  it('container mode: the proxy is the first container and holds the app until ready', async () => {
    const { pod: out } = injectPod(pod({ annotations: { 'tlsmesh.io/sidecar-mode': 'container' } }), ctx);
    expect(out.spec!.containers.map((c) => c.name)).toEqual(['tlsmesh-proxy', 'app']);
    expect(out.spec!.initContainers!.map((c) => c.name)).toEqual(['tlsmesh-init']);
    const proxy = out.spec!.containers[0]!;
    expect(proxy.restartPolicy).toBeUndefined();
    expect(proxy.lifecycle).toEqual({ postStart: { exec: { command: ['tlsmesh', 'wait-ready', '--timeout', '120s'] } } });
    expect(out.metadata!.annotations!['kubectl.kubernetes.io/default-container']).toBe('app');
    expect(await validateObject(out)).toEqual([]);
  });

  it('csi identity and a trust-manager bundle by config', () => {
    const config = parseInjectorConfig({
      sidecar: { image: 'x' },
      identity: { source: 'csi', trustBundle: { configMap: 'bundle' }, mountPath: '/spiffe' },
    });
    const { pod: out } = injectPod(pod(), { config, namespace: 'shop' });
    expect(out.spec!.volumes).toContainEqual({ name: 'tlsmesh-identity', csi: { driver: 'spiffe.csi.cert-manager.io', readOnly: true } });
    expect(out.spec!.volumes).toContainEqual({ name: 'tlsmesh-bundle', configMap: { name: 'bundle', items: [{ key: 'ca.crt', path: 'bundle.pem' }] } });
    expect(proxyConfigOf(out).identity).toMatchObject({ dir: '/spiffe', trustBundle: '/etc/tlsmesh/bundle/bundle.pem' });
  });

  it('fills {namespace} and {serviceAccount} in the Secret name template', () => {
    const config = parseInjectorConfig({ identity: { secretNameTemplate: 'svid-{namespace}-{serviceAccount}' } });
    const { pod: out } = injectPod(pod({ serviceAccountName: 'api' }), { config, namespace: 'prod' });
    expect(out.spec!.volumes![0]).toEqual({ name: 'tlsmesh-identity', secret: { secretName: 'svid-prod-api' } });
  });

  it('the proxy access log: the proxy default unless config or the annotation sets it', () => {
    expect(proxyConfigOf(injectPod(pod(), ctx).pod).accessLog).toBe('errors');
    expect(proxyConfigOf(injectPod(pod({ annotations: { 'tlsmesh.io/proxy-access-log': 'all' } }), ctx).pod).accessLog).toBe('all');
    const quiet = { ...ctx, config: { ...ctx.config, sidecar: { ...ctx.config.sidecar, accessLog: 'off' as const } } };
    expect(proxyConfigOf(injectPod(pod(), quiet).pod).accessLog).toBe('off');
  });

  it('multiplexing: the proxy default (on) unless tlsmesh.io/multiplex is "false"', () => {
    // Absent: the proxy's default, on (the golden files have no such line).
    const on = proxyConfigOf(injectPod(pod(), ctx).pod);
    expect(on.inbound[0]!.multiplex).toBeUndefined();
    expect(on.outbound[0]!.multiplex).toBeUndefined();
    const off = proxyConfigOf(injectPod(pod({ annotations: { 'tlsmesh.io/multiplex': 'false' } }), ctx).pod);
    expect(off.inbound[0]!.multiplex).toBe(false);
    expect(off.outbound[0]!.multiplex).toBe(false);
    // http listeners multiplex requests too: the annotation turns that off as well.
    const http = proxyConfigOf(injectPod(pod({ annotations: { 'tlsmesh.io/multiplex': 'false', 'tlsmesh.io/inbound-protocol': 'http' } }), ctx).pod);
    expect(http.inbound[0]!.multiplex).toBe(false);
    expect(http.outbound[0]!.multiplex).toBe(false);
  });

  it('annotations override config: resources, image, allow, pins, ports', () => {
    const { pod: out } = injectPod(
      pod({
        annotations: {
          'tlsmesh.io/proxy-image': 'other:1',
          'tlsmesh.io/proxy-cpu-limit': '2',
          'tlsmesh.io/allow': 'spiffe://cluster.local/ns/a/sa/b',
          'tlsmesh.io/exclude-outbound-ports': '5432',
        },
      }),
      ctx,
    );
    const proxy = byName(out.spec!.initContainers, 'tlsmesh-proxy')!;
    expect(proxy.image).toBe('other:1');
    expect(byName(out.spec!.initContainers, 'tlsmesh-init')!.image).toBe('other:1');
    expect(proxy.resources).toEqual({ requests: { cpu: '10m', memory: '32Mi' }, limits: { memory: '256Mi', cpu: '2' } });
    expect(proxyConfigOf(out).inbound[0]!.allow).toEqual(['spiffe://cluster.local/ns/a/sa/b']);
    expect(byName(out.spec!.initContainers, 'tlsmesh-init')!.args).toContain('5432');
  });

  it('refuses with every problem at once: bad annotations, taken names, the sidecar ports', () => {
    const p = pod({
      annotations: { 'tlsmesh.io/sidecar-mode': 'x', 'tlsmesh.io/inbound-tls': 'none' },
      containers: [container('app', { ports: [{ containerPort: 15020 }] })],
      volumes: [{ name: 'tlsmesh-config', emptyDir: {} }],
    });
    let err: unknown;
    try {
      injectPod(p, ctx);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InjectError);
    expect((err as InjectError).code).toBe('TLSMESH_ERR_INJECT');
    expect((err as InjectError).problems).toEqual([
      'tlsmesh.io/sidecar-mode: expected one of native, container, got "x"',
      'tlsmesh.io/inbound-tls: expected one of mutual, server, permissive, got "none"',
      'volume tlsmesh-config: the name is taken',
      "container app: port 15020 is the sidecar's",
    ]);
  });

  it.each([
    ['no spec', { metadata: {} }, 'spec: expected a pod spec'],
    ['no containers', { spec: { containers: [] } }, 'spec.containers: expected at least one container'],
    ['containers not a list', { spec: { containers: 'app' } }, 'spec.containers: expected at least one container'],
    ['nameless container', { spec: { containers: [{ image: 'x' }] } }, 'spec.containers[0].name: expected a name'],
  ])('refuses a pod with %s', (_n, p, problem) => {
    expect(() => injectPod(p as PodLike, ctx)).toThrow(new InjectError([problem]));
  });
});

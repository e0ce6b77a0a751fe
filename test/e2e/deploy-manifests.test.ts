// deploy/ as a user applies it: every YAML parses; every Kubernetes object passes
// the Kubernetes and cert-manager schemas strictly (no unknown field); `kubectl
// kustomize` (the real assembler, offline) yields objects with no duplicate and
// no dangling reference; the configs load with their own schemas; and the
// pieces agree with each other (ports, paths, the workload Secret's name).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadInjectorConfig } from '../../injector/src/config.js';
import { desiredCertificate } from '../../injector/src/controller/certificate.js';
import { loadControllerConfig } from '../../injector/src/controller/config.js';
import { IDENTITY_VOLUME, MERGED_METRICS_PATH, PROXY_CONTAINER } from '../../injector/src/names.js';
import { ADMIN_PORT } from '../../proxy/src/defaults.js';
import { injectPod } from '../../injector/src/sidecar.js';
import { pod } from '../../injector/src/testing/builders.js';
import { ROOT } from '../../injector/src/testing/process.js';
import { sharedFromInjector } from '../../proxy/src/cli/controller.js';
import { validateObject } from '../support/k8s-validate.js';
import { idOf, miniKustomize, referenceProblems, type K8sObject } from '../support/manifest-refs.js';

const DEPLOY = join(ROOT, 'deploy');
const walk = (dir: string): string[] => readdirSync(dir).flatMap((f) => (statSync(join(dir, f)).isDirectory() ? walk(join(dir, f)) : [join(dir, f)]));
const files = walk(DEPLOY).map((f) => relative(DEPLOY, f)).sort();
const yamlFiles = files.filter((f) => /\.ya?ml$/.test(f));
/** YAML in deploy/ that is not Kubernetes objects, and what checks it instead. */
const NOT_OBJECTS: Record<string, string> = {
  'config/injector.yaml': 'the injector config schema',
  'config/controller.yaml': 'the controller config schema',
  'observability/prometheus-scrape.yaml': 'promtool check config',
};
const isKustomization = (f: string) => f.endsWith('kustomization.yaml');
const objectFiles = yamlFiles.filter((f) => !isKustomization(f) && !(f in NOT_OBJECTS));
const docsOf = (text: string) => parseAllDocuments(text, { uniqueKeys: true }) as ReturnType<typeof parseAllDocuments> & unknown[];
const load = (f: string) => [docsOf(readFileSync(join(DEPLOY, f), 'utf8'))].flat().map((d) => (d as { toJS(): unknown }).toJS()).filter((o) => o !== null) as K8sObject[];

const HAVE_KUBECTL = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' }).status === 0;
const HAVE_PROMTOOL = spawnSync('promtool', ['--version'], { encoding: 'utf8' }).status === 0;
if (!HAVE_KUBECTL) console.warn('kubectl is not installed: deploy/ is assembled by the small stand-in in test/support/manifest-refs.ts instead of kubectl kustomize');
if (!HAVE_PROMTOOL) console.warn('SKIPPING promtool checks: promtool (prometheus) is not installed');

const parseObjects = (text: string) => (docsOf(text) as { toJS(): unknown }[]).map((d) => d.toJS() as K8sObject).filter((o) => o !== null);

/** `kubectl kustomize`, or where kubectl is missing, the small stand-in (loudly). */
function kustomize(dir: string): K8sObject[] {
  if (!HAVE_KUBECTL) return miniKustomize(join(DEPLOY, dir), (p) => readFileSync(p, 'utf8'), parseObjects);
  return parseObjects(execFileSync('kubectl', ['kustomize', join(DEPLOY, dir)], { encoding: 'utf8' }));
}

describe('deploy/: the files', () => {
  it.each(yamlFiles)('%s parses (no duplicate keys, no YAML error)', (f) => {
    for (const doc of docsOf(readFileSync(join(DEPLOY, f), 'utf8'))) expect((doc as { errors: unknown[] }).errors).toEqual([]);
  });

  it.each(objectFiles)('%s: every object passes its schema, with no unknown field', async (f) => {
    const objects = load(f);
    expect(objects.length).toBeGreaterThan(0);
    for (const o of objects) expect({ object: idOf(o), problems: await validateObject(o) }).toEqual({ object: idOf(o), problems: [] });
  });

  it('every file is used by a kustomization, and every file a kustomization names exists', () => {
    const used = new Set<string>();
    for (const k of files.filter(isKustomization)) {
      const dir = join(k, '..');
      const spec = load(k)[0] as unknown as { resources?: string[]; configMapGenerator?: { files: string[] }[] };
      const named = [...(spec.resources ?? []), ...(spec.configMapGenerator ?? []).flatMap((g) => g.files.map((x) => x.split('=').pop()!))];
      for (const n of named) {
        const f = join(dir, n);
        expect(files, `${k} names ${n}`).toContain(f);
        used.add(f);
      }
    }
    const unused = files.filter((f) => !isKustomization(f) && !used.has(f) && f !== 'observability/prometheus-scrape.yaml');
    expect(unused).toEqual([]);
  });

  it('the configs load with the schemas the commands use', () => {
    const injector = loadInjectorConfig(join(DEPLOY, 'config/injector.yaml'));
    expect(injector.tls?.dir).toBe('/var/run/secrets/tlsmesh-injector');
    const controller = loadControllerConfig(join(DEPLOY, 'config/controller.yaml'), sharedFromInjector);
    expect(controller.policy).toMatchObject({ trustDomain: injector.trustDomain, secretNameTemplate: injector.identity.secretNameTemplate, issueCertificates: true });
  });

  it.skipIf(!HAVE_PROMTOOL)('the Prometheus scrape example passes promtool check config', () => {
    const text = readFileSync(join(DEPLOY, 'observability/prometheus-scrape.yaml'), 'utf8');
    // Debian's Prometheus is built without Kubernetes service discovery: when
    // promtool does not know it, check everything else with a static target.
    const probe = spawnSync('promtool', ['check', 'config', '/dev/stdin'], { input: 'scrape_configs: [{job_name: x, kubernetes_sd_configs: [{role: pod}]}]\n', encoding: 'utf8' });
    const checked = probe.status === 0 ? text : text.replace(/kubernetes_sd_configs:\n(\s+)- role: pod(\n\s+namespaces:\n\s+names: \[[^\]]*\])?/g, "static_configs:\n$1- targets: ['127.0.0.1:15020']");
    if (probe.status !== 0) console.warn('promtool has no kubernetes_sd_configs here: checking the scrape config with static targets');
    if (probe.status !== 0) expect(checked).not.toContain('kubernetes_sd_configs');
    const dir = mkdtempSync(join(tmpdir(), 'tlsmesh-promtool-'));
    try {
      const file = join(dir, 'prometheus.yml');
      writeFileSync(file, checked);
      const r = spawnSync('promtool', ['check', 'config', file], { encoding: 'utf8' });
      expect(r.stdout + r.stderr).toContain('SUCCESS');
      expect(r.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the scrape job finds the sidecar the injector adds, where it serves the merged metrics', () => {
    const job = (load('observability/prometheus-scrape.yaml')[0] as unknown as { scrape_configs: { job_name: string; relabel_configs: { regex?: string; replacement?: string; target_label?: string }[] }[] }).scrape_configs[0]!;
    expect(job.relabel_configs[0]!.regex).toBe(`${PROXY_CONTAINER};${ADMIN_PORT}`);
    expect(job.relabel_configs.find((r) => r.target_label === '__metrics_path__')?.replacement).toBe(MERGED_METRICS_PATH);
  });
});

describe('kubectl kustomize deploy/', () => {
  let objects: K8sObject[];
  const get = (kind: string, name: string) => {
    const o = objects.find((x) => x.kind === kind && x.metadata.name.startsWith(name));
    if (!o) throw new Error(`no ${kind} ${name}`);
    return o;
  };
  const containerOf = (deployment: string) => get('Deployment', deployment).spec.template.spec.containers[0];
  beforeAll(() => {
    objects = kustomize('.');
  });

  it('assembles the whole install, each object passing its schema strictly', async () => {
    expect(objects.map(idOf).sort()).toEqual(
      [
        'Certificate cert-manager/tlsmesh-root-ca',
        'Certificate tlsmesh-system/tlsmesh-injector-serving',
        'ClusterIssuer tlsmesh-ca',
        'ClusterIssuer tlsmesh-selfsigned',
        'ClusterRole tlsmesh-controller',
        'ClusterRoleBinding tlsmesh-controller',
        `ConfigMap tlsmesh-system/${get('ConfigMap', 'tlsmesh-config').metadata.name}`,
        'Deployment tlsmesh-system/tlsmesh-controller',
        'Deployment tlsmesh-system/tlsmesh-injector',
        'MutatingWebhookConfiguration tlsmesh-injector',
        'Namespace tlsmesh-system',
        'PodDisruptionBudget tlsmesh-system/tlsmesh-injector',
        'Service tlsmesh-system/tlsmesh-injector',
        'ServiceAccount tlsmesh-system/tlsmesh-controller',
        'ServiceAccount tlsmesh-system/tlsmesh-injector',
      ].sort(),
    );
    for (const o of objects) {
      expect({ object: idOf(o), problems: await validateObject(o) }).toEqual({ object: idOf(o), problems: [] });
      expect(o.metadata.labels?.['app.kubernetes.io/part-of']).toBe('tlsmesh');
    }
  });

  it.skipIf(!HAVE_KUBECTL)('the stand-in assembler agrees with kubectl kustomize (but for the name hash)', () => {
    for (const dir of ['.', 'trust-manager', 'observability']) {
      const unhash = (os: K8sObject[]) => JSON.stringify(os.map((o) => ({ ...o, metadata: { ...o.metadata, name: o.metadata.name.replace(/-[a-z0-9]{10}$/, '') } })).sort((a, b) => idOf(a).localeCompare(idOf(b))), (_k, v: unknown) =>
        v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b))) : typeof v === 'string' ? v.replace(/^(tlsmesh-config)-[a-z0-9]{10}$/, '$1') : v,
      );
      const mini = miniKustomize(join(DEPLOY, dir), (p) => readFileSync(p, 'utf8'), parseObjects);
      expect(unhash(mini), dir).toBe(unhash(kustomize(dir)));
    }
  });

  it('has no duplicate and no dangling reference', () => {
    // cert-manager's own namespace comes with cert-manager.
    expect(referenceProblems(objects, { externalNamespaces: ['cert-manager'] })).toEqual([]);
  });

  it('the reference check does catch what is broken', () => {
    const broken = structuredClone(objects).filter((o) => o.kind !== 'Service');
    const find = (kind: string, name: string) => broken.find((o) => o.kind === kind && o.metadata.name.startsWith(name))!;
    find('Certificate', 'tlsmesh-injector-serving').spec.issuerRef.name = 'tlsmesh-ca-typo';
    find('Certificate', 'tlsmesh-root-ca').spec.secretName = 'elsewhere';
    find('Deployment', 'tlsmesh-controller').spec.template.spec.volumes[0].configMap.name = 'tlsmesh-config-missing';
    find('Deployment', 'tlsmesh-injector').spec.template.spec.volumes[1].secret.secretName = 'tlsmesh-injector-tls';
    find('MutatingWebhookConfiguration', 'tlsmesh-injector').metadata.annotations!['cert-manager.io/inject-ca-from'] = 'tlsmesh-system/nope';
    broken.push(structuredClone(get('ClusterRole', 'tlsmesh-controller')));
    expect(referenceProblems(broken, { externalNamespaces: ['cert-manager'] }).sort()).toEqual(
      [
        'rbac.authorization.k8s.io ClusterRole tlsmesh-controller: defined 2 times',
        'Certificate tlsmesh-system/tlsmesh-injector-serving: issuerRef ClusterIssuer tlsmesh-ca-typo does not exist',
        'ClusterIssuer tlsmesh-ca: ca.secretName tlsmesh-root-ca is issued by no Certificate in cert-manager',
        'Deployment tlsmesh-system/tlsmesh-controller: volume config: ConfigMap tlsmesh-config-missing does not exist',
        'Deployment tlsmesh-system/tlsmesh-injector: volume serving-tls: Secret tlsmesh-injector-tls is neither defined nor issued by a Certificate',
        'MutatingWebhookConfiguration tlsmesh-injector: inject-ca-from tlsmesh-system/nope names no Certificate',
        'MutatingWebhookConfiguration tlsmesh-injector: webhook namespace.inject.tlsmesh.io: Service tlsmesh-system/tlsmesh-injector does not exist',
        'MutatingWebhookConfiguration tlsmesh-injector: webhook pod.inject.tlsmesh.io: Service tlsmesh-system/tlsmesh-injector does not exist',
      ].sort(),
    );
    const svc = structuredClone(objects);
    const service = svc.find((o) => o.kind === 'Service')!;
    service.spec.ports[0].port = 8443;
    service.spec.ports[0].targetPort = 'https';
    svc.find((o) => o.kind === 'Certificate' && o.metadata.name === 'tlsmesh-injector-serving')!.spec.dnsNames = ['injector.example'];
    expect(referenceProblems(svc, { externalNamespaces: ['cert-manager'] }).sort()).toEqual(
      [
        'MutatingWebhookConfiguration tlsmesh-injector: webhook namespace.inject.tlsmesh.io: Service tlsmesh-system/tlsmesh-injector has no port 443',
        'MutatingWebhookConfiguration tlsmesh-injector: webhook namespace.inject.tlsmesh.io: tlsmesh-injector-serving is not valid for tlsmesh-injector.tlsmesh-system.svc',
        'MutatingWebhookConfiguration tlsmesh-injector: webhook pod.inject.tlsmesh.io: Service tlsmesh-system/tlsmesh-injector has no port 443',
        'MutatingWebhookConfiguration tlsmesh-injector: webhook pod.inject.tlsmesh.io: tlsmesh-injector-serving is not valid for tlsmesh-injector.tlsmesh-system.svc',
        'Service tlsmesh-system/tlsmesh-injector: targetPort https is no container port of Deployment tlsmesh-system/tlsmesh-injector',
      ].sort(),
    );
  });

  it('the webhook: fails closed, skips the system namespaces, trusts the serving certificate, calls the paths the injector serves', () => {
    const hook = get('MutatingWebhookConfiguration', 'tlsmesh-injector');
    expect(hook.metadata.annotations?.['cert-manager.io/inject-ca-from']).toBe('tlsmesh-system/tlsmesh-injector-serving');
    // The paths of docs/injector.md: namespace-wide injection, and pods opted in one by one.
    expect(hook.webhooks.map((w: any) => [w.name, w.clientConfig.service.path])).toEqual([
      ['namespace.inject.tlsmesh.io', '/inject'],
      ['pod.inject.tlsmesh.io', '/inject/opt-in'],
    ]);
    for (const w of hook.webhooks) {
      expect(w).toMatchObject({ failurePolicy: 'Fail', sideEffects: 'None', admissionReviewVersions: ['v1'], reinvocationPolicy: 'IfNeeded', timeoutSeconds: 10 });
      expect(w.rules).toEqual([{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], scope: 'Namespaced' }]);
      expect(w.namespaceSelector.matchExpressions).toContainEqual({ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['kube-system', 'kube-public', 'kube-node-lease', 'tlsmesh-system'] });
    }
    expect(hook.webhooks[0].namespaceSelector.matchExpressions).toContainEqual({ key: 'tlsmesh.io/inject', operator: 'In', values: ['enabled'] });
    expect(hook.webhooks[1].matchConditions[0].expression).toContain("object.metadata.annotations['tlsmesh.io/inject'] == 'true'");
    expect(get('Namespace', 'tlsmesh-system').metadata.labels?.['tlsmesh.io/inject']).toBe('disabled');
  });

  it('the configs agree with the Deployments: ports, mount paths, config files', () => {
    const cm = get('ConfigMap', 'tlsmesh-config');
    const injector = loadInjectorConfigText(cm.data['injector.yaml']);
    const injectorC = containerOf('tlsmesh-injector');
    expect(injectorC.args).toEqual(['injector', '--config', '/etc/tlsmesh/injector.yaml']);
    expect(injectorC.volumeMounts).toContainEqual({ name: 'config', mountPath: '/etc/tlsmesh', readOnly: true });
    expect(injectorC.volumeMounts).toContainEqual({ name: 'serving-tls', mountPath: injector.tls!.dir, readOnly: true });
    expect(injectorC.ports).toEqual([{ name: 'https-webhook', containerPort: injector.listen.port, protocol: 'TCP' }]);
    const controllerC = containerOf('tlsmesh-controller');
    expect(controllerC.args).toEqual(['controller', '--config', '/etc/tlsmesh/controller.yaml']);
    expect(cm.data['controller.yaml']).toMatch(/^injectorConfig: injector.yaml /m);
    expect(controllerC.ports[0].containerPort).toBe(15020);
    expect(cm.data['controller.yaml']).toContain('listen: 0.0.0.0:15020');
    expect(get('Deployment', 'tlsmesh-controller').spec.template.metadata.annotations['prometheus.io/port']).toBe('15020');
    const serving = get('Certificate', 'tlsmesh-injector-serving');
    const injectorVolumes = get('Deployment', 'tlsmesh-injector').spec.template.spec.volumes;
    expect(injectorVolumes).toContainEqual({ name: 'serving-tls', secret: { secretName: serving.spec.secretName, defaultMode: 0o440 } });
    expect(injectorC.image).toBe('tlsmesh:latest');
    expect(injector.sidecar.image).toBe(injectorC.image);
  });

  it("the Secret the injector mounts into a pod is the one the controller asks cert-manager for, from the CA issuer", () => {
    const injector = loadInjectorConfig(join(DEPLOY, 'config/injector.yaml'));
    const { policy } = loadControllerConfig(join(DEPLOY, 'config/controller.yaml'), sharedFromInjector);
    const injected = injectPod(pod({ namespace: 'shop', serviceAccountName: 'web' }), { config: injector, namespace: 'shop' }).pod;
    const volume = (injected.spec as { volumes: { name: string; secret?: { secretName: string } }[] }).volumes.find((v) => v.name === IDENTITY_VOLUME);
    const want = desiredCertificate(policy, { metadata: { name: 'web', namespace: 'shop', uid: 'u' } });
    if (!('certificate' in want)) throw new Error(want.problem);
    expect(volume?.secret?.secretName).toBe('tlsmesh-svid-web');
    expect(want.certificate.spec.secretName).toBe(volume?.secret?.secretName);
    expect(want.certificate.spec.uris).toEqual([`spiffe://${injector.trustDomain}/ns/shop/sa/web`]);
    const issuer = get('ClusterIssuer', want.certificate.spec.issuerRef.name);
    expect(issuer.spec.ca.secretName).toBe(get('Certificate', 'tlsmesh-root-ca').spec.secretName);
  });

  it('every container is hardened like the sidecar; the injector holds no API token', () => {
    for (const d of objects.filter((o) => o.kind === 'Deployment')) {
      const spec = d.spec.template.spec;
      expect(spec.securityContext, d.metadata.name).toMatchObject({ runAsNonRoot: true, runAsUser: 1337, seccompProfile: { type: 'RuntimeDefault' } });
      for (const c of spec.containers) {
        expect(c.securityContext, c.name).toEqual({
          runAsUser: 1337,
          runAsGroup: 1337,
          runAsNonRoot: true,
          privileged: false,
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          capabilities: { drop: ['ALL'] },
          seccompProfile: { type: 'RuntimeDefault' },
        });
        expect(c.readinessProbe && c.livenessProbe && c.resources?.requests, c.name).toBeTruthy();
      }
    }
    expect(get('Deployment', 'tlsmesh-injector').spec.replicas).toBe(2);
    expect(get('Deployment', 'tlsmesh-injector').spec.template.spec.automountServiceAccountToken).toBe(false);
    expect(get('PodDisruptionBudget', 'tlsmesh-injector').spec.minAvailable).toBe(1);
  });

  it('RBAC is exactly what the controller calls: read namespaces and ServiceAccounts, write Certificates', () => {
    expect(get('ClusterRole', 'tlsmesh-controller').rules).toEqual([
      { apiGroups: [''], resources: ['namespaces', 'serviceaccounts'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: ['cert-manager.io'], resources: ['certificates'], verbs: ['get', 'list', 'watch', 'create', 'update', 'delete'] },
    ]);
    expect(objects.filter((o) => /Role/.test(o.kind)).map(idOf).sort()).toEqual(['ClusterRole tlsmesh-controller', 'ClusterRoleBinding tlsmesh-controller']);
  });

  it.each(['trust-manager', 'observability'])('deploy/%s assembles into objects that pass their schemas', async (dir) => {
    const extra = kustomize(dir);
    expect(extra.length).toBeGreaterThan(0);
    for (const o of extra) expect({ object: idOf(o), problems: await validateObject(o) }).toEqual({ object: idOf(o), problems: [] });
    expect(referenceProblems([...objects, ...extra], { externalNamespaces: ['cert-manager'] })).toEqual([]);
  });
});

function loadInjectorConfigText(text: string) {
  const dir = mkdtempSync(join(tmpdir(), 'tlsmesh-injector-config-'));
  try {
    writeFileSync(join(dir, 'injector.yaml'), text);
    return loadInjectorConfig(join(dir, 'injector.yaml'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// Cross-object checks on an assembled set of Kubernetes objects (the output of
// `kubectl kustomize deploy/`): nothing named twice, nothing pointing at an
// object that is not there. Each problem is one line naming both ends.

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [k: string]: any;
}

const CLUSTER_SCOPED = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding', 'ClusterIssuer', 'MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration', 'Bundle']);

export const idOf = (o: K8sObject) => `${o.kind} ${o.metadata.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata.name}`;

const matches = (selector: Record<string, string> | undefined, labels: Record<string, string> | undefined) =>
  selector !== undefined && Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels?.[k] === v);

/** Secrets cert-manager will write: a Certificate's spec.secretName, in its namespace. */
function issuedSecrets(objects: K8sObject[]): Set<string> {
  return new Set(objects.filter((o) => o.kind === 'Certificate').map((c) => `${c.metadata.namespace}/${c.spec.secretName}`));
}

export function referenceProblems(objects: K8sObject[], opts: { externalNamespaces?: string[] } = {}): string[] {
  const problems: string[] = [];
  const seen = new Map<string, number>();
  for (const o of objects) {
    const group = o.apiVersion.includes('/') ? o.apiVersion.split('/')[0] : 'core';
    const key = `${group} ${idOf(o)}`;
    seen.set(key, (seen.get(key) ?? 0) + 1);
    if (CLUSTER_SCOPED.has(o.kind) && o.metadata.namespace) problems.push(`${idOf(o)}: cluster-scoped but has a namespace`);
    if (!CLUSTER_SCOPED.has(o.kind) && !o.metadata.namespace) problems.push(`${idOf(o)}: namespaced but has no namespace`);
  }
  for (const [key, n] of seen) if (n > 1) problems.push(`${key}: defined ${n} times`);

  const find = (kind: string, name: string, namespace?: string) => objects.find((o) => o.kind === kind && o.metadata.name === name && (namespace === undefined || o.metadata.namespace === namespace));
  const namespaces = new Set([...objects.filter((o) => o.kind === 'Namespace').map((o) => o.metadata.name), ...(opts.externalNamespaces ?? [])]);
  const secrets = issuedSecrets(objects);
  const workloads = objects.filter((o) => ['Deployment', 'StatefulSet', 'DaemonSet'].includes(o.kind));

  for (const o of objects) {
    const where = idOf(o);
    if (o.metadata.namespace && !namespaces.has(o.metadata.namespace)) problems.push(`${where}: namespace ${o.metadata.namespace} is not created here`);
    if (o.kind === 'Certificate') {
      const ref = o.spec.issuerRef ?? {};
      const issuer = ref.kind === 'ClusterIssuer' ? find('ClusterIssuer', ref.name) : find('Issuer', ref.name, o.metadata.namespace);
      if (!issuer) problems.push(`${where}: issuerRef ${ref.kind} ${ref.name} does not exist`);
    }
    if (o.kind === 'ClusterIssuer' && o.spec.ca) {
      // cert-manager's cluster resource namespace (default cert-manager).
      if (!secrets.has(`cert-manager/${o.spec.ca.secretName}`)) problems.push(`${where}: ca.secretName ${o.spec.ca.secretName} is issued by no Certificate in cert-manager`);
    }
    if (o.kind === 'MutatingWebhookConfiguration' || o.kind === 'ValidatingWebhookConfiguration') {
      const from = o.metadata.annotations?.['cert-manager.io/inject-ca-from'];
      const [cns, cname] = (from ?? '/').split('/');
      const cert = find('Certificate', cname!, cns);
      if (!cert) problems.push(`${where}: inject-ca-from ${from} names no Certificate`);
      for (const w of o.webhooks ?? []) {
        const s = w.clientConfig?.service;
        if (!s) continue;
        const svc = find('Service', s.name, s.namespace);
        if (!svc) {
          problems.push(`${where}: webhook ${w.name}: Service ${s.namespace}/${s.name} does not exist`);
          continue;
        }
        const port = (svc.spec.ports ?? []).find((p: { port: number }) => p.port === (s.port ?? 443));
        if (!port) problems.push(`${where}: webhook ${w.name}: Service ${s.namespace}/${s.name} has no port ${s.port ?? 443}`);
        if (cert && !(cert.spec.dnsNames ?? []).includes(`${s.name}.${s.namespace}.svc`)) problems.push(`${where}: webhook ${w.name}: ${cert.metadata.name} is not valid for ${s.name}.${s.namespace}.svc`);
      }
    }
    if (o.kind === 'Service') {
      const backends = workloads.filter((d) => d.metadata.namespace === o.metadata.namespace && matches(o.spec.selector, d.spec.template.metadata.labels));
      if (backends.length === 0) problems.push(`${where}: selector matches no workload's pods`);
      for (const p of o.spec.ports ?? []) {
        if (typeof p.targetPort !== 'string') continue;
        for (const d of backends) {
          const named = d.spec.template.spec.containers.some((c: any) => (c.ports ?? []).some((cp: any) => cp.name === p.targetPort));
          if (!named) problems.push(`${where}: targetPort ${p.targetPort} is no container port of ${idOf(d)}`);
        }
      }
    }
    if (o.kind === 'PodDisruptionBudget' && !workloads.some((d) => d.metadata.namespace === o.metadata.namespace && matches(o.spec.selector?.matchLabels, d.spec.template.metadata.labels))) {
      problems.push(`${where}: selector matches no workload's pods`);
    }
    if (o.kind === 'ClusterRoleBinding' || o.kind === 'RoleBinding') {
      if (!find(o.roleRef.kind, o.roleRef.name, o.roleRef.kind === 'Role' ? o.metadata.namespace : undefined)) problems.push(`${where}: roleRef ${o.roleRef.kind} ${o.roleRef.name} does not exist`);
      for (const s of o.subjects ?? []) if (s.kind === 'ServiceAccount' && !find('ServiceAccount', s.name, s.namespace)) problems.push(`${where}: subject ServiceAccount ${s.namespace}/${s.name} does not exist`);
    }
    if (workloads.includes(o)) {
      const spec = o.spec.template.spec;
      const ns = o.metadata.namespace;
      if (!matches(o.spec.selector?.matchLabels, o.spec.template.metadata.labels)) problems.push(`${where}: selector does not match its own pod template`);
      if (spec.serviceAccountName && !find('ServiceAccount', spec.serviceAccountName, ns)) problems.push(`${where}: ServiceAccount ${spec.serviceAccountName} does not exist`);
      const volumes = new Set<string>((spec.volumes ?? []).map((v: { name: string }) => v.name));
      for (const v of spec.volumes ?? []) {
        if (v.secret && !secrets.has(`${ns}/${v.secret.secretName}`) && !find('Secret', v.secret.secretName, ns)) problems.push(`${where}: volume ${v.name}: Secret ${v.secret.secretName} is neither defined nor issued by a Certificate`);
        if (v.configMap && !find('ConfigMap', v.configMap.name, ns)) problems.push(`${where}: volume ${v.name}: ConfigMap ${v.configMap.name} does not exist`);
      }
      for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
        for (const m of c.volumeMounts ?? []) if (!volumes.has(m.name)) problems.push(`${where}: container ${c.name} mounts unknown volume ${m.name}`);
      }
    }
  }
  return problems;
}

/**
 * A minimal kustomize, for machines without kubectl: resources (files), a
 * configMapGenerator from files (no hash suffix), `labels` without selectors,
 * and `images`. The deploy tests compare it with `kubectl kustomize` wherever
 * kubectl is there, so it cannot drift unnoticed.
 */
export function miniKustomize(dir: string, read: (path: string) => string, parse: (text: string) => K8sObject[]): K8sObject[] {
  const k = parse(read(`${dir}/kustomization.yaml`))[0] as unknown as {
    resources?: string[];
    configMapGenerator?: { name: string; namespace?: string; files: string[]; options?: { labels?: Record<string, string> } }[];
    labels?: { pairs: Record<string, string>; includeSelectors?: boolean }[];
    images?: { name: string; newName?: string; newTag?: string }[];
  };
  const out: K8sObject[] = (k.resources ?? []).flatMap((r) => parse(read(`${dir}/${r}`)));
  for (const g of k.configMapGenerator ?? []) {
    const data = Object.fromEntries(g.files.map((f) => {
      const [key, path] = f.includes('=') ? f.split('=') : [f.split('/').pop()!, f];
      return [key!, read(`${dir}/${path}`)];
    }));
    out.push({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: g.name, ...(g.namespace ? { namespace: g.namespace } : {}), ...(g.options?.labels ? { labels: { ...g.options.labels } } : {}) }, data });
  }
  for (const o of out) {
    for (const l of k.labels ?? []) o.metadata.labels = { ...o.metadata.labels, ...l.pairs };
    const spec = o.spec?.template?.spec;
    for (const c of [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])]) {
      const [name, tag] = String(c.image).split(':');
      const img = (k.images ?? []).find((i) => i.name === name);
      if (img) c.image = `${img.newName ?? name}:${img.newTag ?? tag ?? 'latest'}`;
    }
  }
  return out;
}

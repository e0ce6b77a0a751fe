// The one injection function: pod + config -> injected pod. Pure: no I/O, no
// clock, the input is never modified. Both front doors (the webhook and
// `tlsmesh inject`) call injectPod; patch.ts turns its result into a JSON Patch.
import type { IResourceRequirements } from 'kubernetes-models/v1/ResourceRequirements';
import { ADMIN_PORT, INBOUND_CAPTURE_PORT, OUTBOUND_CAPTURE_PORT } from '../../proxy/src/defaults.js';
import { readPodOptions, type PodOptions } from './annotations.js';
import { secretNameFor, type InjectorConfig } from './config.js';
import { initContainer, proxyContainer, TRUST_BUNDLE_PATH, volumes, type Settings } from './containers.js';
import { InjectError } from './errors.js';
import type { Container, PodLike, PodSpec } from './k8s.js';
import { isObject, serviceAccountOf } from './k8s.js';
import { ANNOTATION, BUNDLE_VOLUME, CONFIG_VOLUME, IDENTITY_VOLUME, INIT_CONTAINER, PROXY_CONTAINER } from './names.js';
import { rewriteProbes, type AppProbeSpec } from './probes.js';
import { rewritePrometheus } from './prometheus.js';
import { proxyConfigYaml } from './proxy-config.js';

export interface InjectContext {
  config: InjectorConfig;
  /** The pod's namespace (fills `{namespace}` in the Secret name template). */
  namespace: string;
}

export interface Injected {
  pod: PodLike;
  warnings: string[];
}

/** What `tlsmesh.io/status` records: everything injection added, by name. */
export interface InjectionStatus {
  mode: 'native' | 'container';
  initContainers: string[];
  containers: string[];
  volumes: string[];
}

export function injectPod(input: PodLike, ctx: InjectContext): Injected {
  // Copies along the changed paths only: the result shares what did not change with the input.
  const pod: PodLike = { ...input };
  const spec = checkShape(pod);
  const annotations = { ...(pod.metadata?.annotations ?? {}) };
  const read = readPodOptions(annotations);
  const settings = settingsFor(pod, read.options, ctx);
  const problems = [...read.errors, ...settings.problems, ...conflicts(spec)];
  if (problems.length) throw new InjectError(problems);
  const s = settings.value;
  const o = read.options;
  const warnings = [...read.warnings];

  // Probes of the app containers and of the user's own native sidecars.
  const rewriting = o.rewriteProbes ?? ctx.config.probes.rewrite;
  const initCs = spec.initContainers ?? [];
  const probed = rewriting ? rewriteProbes(spec.containers, ADMIN_PORT) : { containers: spec.containers, appProbes: {}, warnings: [] };
  const sidecarIdx = initCs.map((c, i) => (isObject(c) && c.restartPolicy === 'Always' ? i : -1)).filter((i) => i >= 0);
  const initProbed = rewriting ? rewriteProbes(sidecarIdx.map((i) => initCs[i]!), ADMIN_PORT) : { containers: [], appProbes: {}, warnings: [] };
  const userInits = initCs.map((c, i) => (sidecarIdx.includes(i) ? initProbed.containers[sidecarIdx.indexOf(i)]! : c));
  const appProbes: Record<string, AppProbeSpec> = { ...initProbed.appProbes, ...probed.appProbes };
  warnings.push(...probed.warnings, ...initProbed.warnings);

  const prom = (o.prometheusMerge ?? ctx.config.prometheus.merge) ? rewritePrometheus(annotations, spec.containers, ADMIN_PORT) : undefined;
  if (prom) warnings.push(...prom.warnings);

  const cfg = ctx.config;
  const proxyConfig = proxyConfigYaml({
    trustDomain: cfg.trustDomain,
    logLevel: o.logLevel ?? cfg.sidecar.logLevel,
    accessLog: o.accessLog ?? cfg.sidecar.accessLog,
    ...(cfg.sidecar.drainSeconds !== undefined ? { drainSeconds: cfg.sidecar.drainSeconds } : {}),
    identityDir: s.identityMountPath,
    ...(s.trustBundle ? { trustBundle: TRUST_BUNDLE_PATH } : {}),
    ...(prom?.appMetrics ? { appMetrics: prom.appMetrics } : {}),
    appProbes,
    inbound: {
      protocol: o.inboundProtocol ?? cfg.inbound.protocol,
      tls: o.inboundTls ?? cfg.inbound.tls,
      ...((o.allow ?? cfg.inbound.allow) ? { allow: o.allow ?? cfg.inbound.allow } : {}),
      ...((o.pins ?? cfg.inbound.pins) ? { pins: o.pins ?? cfg.inbound.pins } : {}),
    },
    outbound: { protocol: cfg.outbound.protocol, ...((o.meshNetworks ?? cfg.outbound.meshNetworks) ? { meshNetworks: o.meshNetworks ?? cfg.outbound.meshNetworks } : {}) },
    ...(o.multiplex !== undefined ? { multiplex: o.multiplex } : {}),
  });

  const init = initContainer(s) as Container;
  const proxy = proxyContainer(s) as Container;
  const added = volumes(s);
  const status: InjectionStatus = {
    mode: s.mode,
    initContainers: s.mode === 'native' ? [INIT_CONTAINER, PROXY_CONTAINER] : [INIT_CONTAINER],
    containers: s.mode === 'native' ? [] : [PROXY_CONTAINER],
    volumes: added.map((v) => v.name),
  };

  const firstApp = spec.containers[0]?.name;
  pod.metadata = {
    ...(pod.metadata ?? {}),
    annotations: {
      ...(prom?.annotations ?? annotations),
      ...(s.mode === 'container' && firstApp && annotations['kubectl.kubernetes.io/default-container'] === undefined
        ? { 'kubectl.kubernetes.io/default-container': firstApp }
        : {}),
      [ANNOTATION.status]: JSON.stringify(status),
      [ANNOTATION.proxyConfig]: proxyConfig,
    },
  };
  const newSpec: PodSpec = { ...spec };
  newSpec.initContainers = s.mode === 'native' ? [init, proxy, ...userInits] : [init, ...userInits];
  newSpec.containers = s.mode === 'native' ? probed.containers : [proxy, ...probed.containers];
  newSpec.volumes = [...(spec.volumes ?? []), ...(added as PodSpec['volumes'] & object)];
  pod.spec = newSpec;
  return { pod, warnings };
}

function checkShape(pod: PodLike): PodSpec {
  const spec = pod.spec;
  if (!isObject(spec)) throw new InjectError(['spec: expected a pod spec']);
  if (!Array.isArray(spec.containers) || spec.containers.length === 0) throw new InjectError(['spec.containers: expected at least one container']);
  for (const [field, list] of [['containers', spec.containers], ['initContainers', spec.initContainers ?? []], ['volumes', spec.volumes ?? []]] as const) {
    if (!Array.isArray(list)) throw new InjectError([`spec.${field}: expected a list`]);
    list.forEach((c, i) => {
      if (!isObject(c) || typeof c.name !== 'string') throw new InjectError([`spec.${field}[${i}].name: expected a name`]);
    });
  }
  if (pod.metadata !== undefined && !isObject(pod.metadata)) throw new InjectError(['metadata: expected a mapping']);
  const ann = pod.metadata?.annotations;
  if (ann !== undefined && !isObject(ann)) throw new InjectError(['metadata.annotations: expected a mapping']);
  return spec;
}

function conflicts(spec: PodSpec): string[] {
  const out: string[] = [];
  const names = new Set([...(spec.initContainers ?? []), ...spec.containers].map((c) => c.name));
  for (const n of [INIT_CONTAINER, PROXY_CONTAINER]) if (names.has(n)) out.push(`container ${n}: the name is taken`);
  const vols = new Set((spec.volumes ?? []).map((v) => v.name));
  for (const n of [IDENTITY_VOLUME, CONFIG_VOLUME, BUNDLE_VOLUME]) if (vols.has(n)) out.push(`volume ${n}: the name is taken`);
  const reserved = [INBOUND_CAPTURE_PORT, OUTBOUND_CAPTURE_PORT, ADMIN_PORT];
  for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
    for (const p of Array.isArray(c.ports) ? c.ports : []) {
      if (isObject(p) && reserved.includes(p.containerPort as number)) out.push(`container ${c.name}: port ${String(p.containerPort)} is the sidecar's`);
    }
  }
  return out;
}

/** Config, then annotations on top: the effective settings of this pod. */
function settingsFor(pod: PodLike, o: PodOptions, ctx: InjectContext): { value: Settings; problems: string[] } {
  const cfg = ctx.config;
  const problems: string[] = [];
  const image = o.image ?? cfg.sidecar.image;
  const secretName = secretNameFor(cfg.identity.secretNameTemplate, serviceAccountOf(pod), ctx.namespace);
  if (cfg.identity.source === 'secret' && (secretName.length > 253 || !/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(secretName))) {
    problems.push(`identity Secret name ${JSON.stringify(secretName)} (from identity.secretNameTemplate) is not a valid Secret name`);
  }
  const value: Settings = {
    mode: o.mode ?? cfg.sidecar.mode,
    image,
    initImage: o.image ?? cfg.init.image ?? image,
    ...(cfg.sidecar.imagePullPolicy ? { imagePullPolicy: cfg.sidecar.imagePullPolicy } : {}),
    resources: resourcesWith(cfg.sidecar.resources as IResourceRequirements, o),
    initResources: cfg.init.resources as IResourceRequirements,
    readyTimeoutSeconds: cfg.sidecar.readyTimeoutSeconds,
    identityMountPath: cfg.identity.mountPath,
    identity:
      cfg.identity.source === 'secret'
        ? { source: 'secret', secretName }
        : { source: 'csi', driver: cfg.identity.csi.driver, ...(cfg.identity.csi.volumeAttributes ? { volumeAttributes: { ...cfg.identity.csi.volumeAttributes } } : {}) },
    ...(cfg.identity.trustBundle ? { trustBundle: { ...cfg.identity.trustBundle } } : {}),
    capture: {
      inboundPorts: o.inboundPorts ?? cfg.capture.inboundPorts,
      excludeInboundPorts: o.excludeInboundPorts ?? cfg.capture.excludeInboundPorts,
      excludeOutboundPorts: o.excludeOutboundPorts ?? cfg.capture.excludeOutboundPorts,
      excludeOutboundCidrs: o.excludeOutboundCidrs ?? cfg.capture.excludeOutboundCidrs,
    },
  };
  return { value, problems };
}

function resourcesWith(base: IResourceRequirements, o: PodOptions): IResourceRequirements {
  const r = { ...base } as { requests?: Record<string, string>; limits?: Record<string, string> };
  const set = (kind: 'requests' | 'limits', key: 'cpu' | 'memory', v: string | undefined) => {
    if (v !== undefined) r[kind] = { ...(r[kind] ?? {}), [key]: v };
  };
  set('requests', 'cpu', o.cpuRequest);
  set('requests', 'memory', o.memoryRequest);
  set('limits', 'cpu', o.cpuLimit);
  set('limits', 'memory', o.memoryLimit);
  return r as IResourceRequirements;
}

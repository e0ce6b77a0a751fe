// The injector's config: one schema for `tlsmesh injector --config` and
// `tlsmesh inject --config`, documented field by field in docs/injector.md.
// The contract's fields (listen, tls.dir, trustDomain, sidecar.image) plus the
// templates and defaults the injector applies to every pod.
import { z } from 'zod';
import { ACCESS_LOG_MODES } from '../../proxy/src/access-log.js';
import { loadConfig, parseConfig, type DeepReadonly } from '../../proxy/src/config/index.js';
import { cidr, hostPort, idPattern, pin, seconds, trustDomain } from '../../proxy/src/config/fields.js';
import { IDENTITY_MOUNT_PATH } from '../../proxy/src/defaults.js';
import { ConfigError } from '../../proxy/src/errors.js';
import { quantityProblem } from './values.js';

const quantity = z.string().superRefine((s, ctx) => {
  const p = quantityProblem(s);
  if (p) ctx.addIssue({ code: 'custom', message: p });
});

const resourceList = z.strictObject({ cpu: quantity.optional(), memory: quantity.optional() });
const resources = z.strictObject({ requests: resourceList.optional(), limits: resourceList.optional() });
const port = z.number().int().min(1, 'expected a port 1-65535').max(65535, 'expected a port 1-65535');
const logLevel = z.enum(['debug', 'info', 'warn', 'error', 'silent']);

/** `{serviceAccount}` and `{namespace}` are the only placeholders; the rest must be DNS-name characters. */
const secretNameTemplate = z.string().superRefine((s, ctx) => {
  const unknown = /\{(?!serviceAccount\}|namespace\})[^}]*\}?/.exec(s);
  if (unknown) {
    ctx.addIssue({ code: 'custom', message: `unknown placeholder ${unknown[0]} (use {serviceAccount} or {namespace})` });
    return;
  }
  const literal = s.replace(/\{serviceAccount\}|\{namespace\}/g, 'x');
  if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(literal)) {
    ctx.addIssue({ code: 'custom', message: 'expected lower-case letters, digits, - and . around the placeholders' });
  }
});

export const DEFAULT_SIDECAR_RESOURCES = { requests: { cpu: '10m', memory: '32Mi' }, limits: { memory: '256Mi' } };
export const DEFAULT_INIT_RESOURCES = { requests: { cpu: '10m', memory: '16Mi' }, limits: { cpu: '100m', memory: '64Mi' } };

export const injectorConfigSchema = z.strictObject({
  listen: hostPort.prefault('0.0.0.0:9443'),
  tls: z.strictObject({
    dir: z.string().min(1, 'expected a directory path'),
    /** Re-read the serving certificate this often even without file events (0 = never). */
    pollSeconds: seconds().default(10),
  }).optional(),
  trustDomain: trustDomain.default('cluster.local'),
  /** Bodies larger than this are refused with 413 (two objects at the API server's 3 MiB request limit). */
  maxRequestBytes: z.number().int().positive().default(6 * 1024 * 1024),
  logLevel: logLevel.default('info'),
  /** Pods in these namespaces are never injected, whatever their annotations say. */
  ignoredNamespaces: z.array(z.string().min(1)).default(['kube-system', 'kube-public', 'kube-node-lease']),
  sidecar: z.strictObject({
    image: z.string().min(1, 'expected an image reference').default('tlsmesh:latest'),
    imagePullPolicy: z.enum(['Always', 'IfNotPresent', 'Never']).optional(),
    /** native: an init container with restartPolicy Always; container: the first regular container. */
    mode: z.enum(['native', 'container']).default('native'),
    logLevel: logLevel.default('info'),
    /** The proxy's accessLog; absent: the proxy's default (errors). */
    accessLog: z.enum(ACCESS_LOG_MODES).optional(),
    resources: resources.default(DEFAULT_SIDECAR_RESOURCES),
    drainSeconds: seconds().optional(),
    /** container mode: how long the app's start is held waiting for the proxy to be ready. */
    readyTimeoutSeconds: seconds(1).default(120),
  }).prefault({}),
  init: z.strictObject({
    /** Default: sidecar.image (the same binary runs `tlsmesh init`). */
    image: z.string().min(1).optional(),
    resources: resources.default(DEFAULT_INIT_RESOURCES),
  }).prefault({}),
  identity: z.strictObject({
    /** The workload's cert-manager Secret; the certificate controller reads this same field. */
    secretNameTemplate: secretNameTemplate.default('tlsmesh-svid-{serviceAccount}'),
    mountPath: z.string().startsWith('/', 'expected an absolute path').default(IDENTITY_MOUNT_PATH),
    /** secret: the Secret above; csi: cert-manager's csi-driver-spiffe (a key per pod). */
    source: z.enum(['secret', 'csi']).default('secret'),
    csi: z.strictObject({
      driver: z.string().min(1).default('spiffe.csi.cert-manager.io'),
      volumeAttributes: z.record(z.string(), z.string()).optional(),
    }).prefault({}),
    /** The trust bundle from a ConfigMap (trust-manager); absent = ca.crt of the identity volume. */
    trustBundle: z.strictObject({ configMap: z.string().min(1), key: z.string().min(1).default('ca.crt') }).optional(),
  }).prefault({}),
  capture: z.strictObject({
    inboundPorts: z.union([z.literal('all'), z.array(port).min(1)]).default('all'),
    excludeInboundPorts: z.array(port).default([]),
    excludeOutboundPorts: z.array(port).default([]),
    excludeOutboundCidrs: z.array(cidr).default([]),
  }).prefault({}),
  inbound: z.strictObject({
    protocol: z.enum(['tcp', 'http']).default('tcp'),
    tls: z.enum(['mutual', 'server', 'permissive']).default('mutual'),
    allow: z.array(idPattern).optional(),
    pins: z.array(pin).optional(),
  }).prefault({}),
  outbound: z.strictObject({
    protocol: z.enum(['tcp', 'http']).default('tcp'),
    /** Only these destinations get mTLS; absent = every captured destination. */
    meshNetworks: z.array(cidr).optional(),
  }).prefault({}),
  probes: z.strictObject({ rewrite: z.boolean().default(true) }).prefault({}),
  prometheus: z.strictObject({ merge: z.boolean().default(true) }).prefault({}),
});

export type InjectorConfig = DeepReadonly<z.output<typeof injectorConfigSchema>>;

/** The built-in defaults, used by `tlsmesh inject` without --config. */
export function defaultInjectorConfig(): InjectorConfig {
  return parseConfig({}, injectorConfigSchema);
}

export function parseInjectorConfig(input: unknown): InjectorConfig {
  return parseConfig(input, injectorConfigSchema);
}

export function loadInjectorConfig(file: string): InjectorConfig {
  return loadConfig(file, injectorConfigSchema);
}

/** The webhook needs what `tlsmesh inject` does not: its serving certificate. */
export function requireServingTls(cfg: InjectorConfig): NonNullable<InjectorConfig['tls']> {
  if (!cfg.tls) throw new ConfigError('tls.dir', 'required (the webhook serves HTTPS)');
  return cfg.tls;
}

/** The Secret holding a workload's SVID: `identity.secretNameTemplate` filled in. */
export function secretNameFor(template: string, serviceAccount: string, namespace: string): string {
  return template.replace(/\{serviceAccount\}/g, serviceAccount).replace(/\{namespace\}/g, namespace);
}

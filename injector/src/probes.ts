// Kubelet probes under strict mTLS: kubelet has no certificate, so an httpGet,
// tcpSocket or grpc probe on an app port would be refused by the sidecar. Each such
// probe is rewritten to an httpGet on the sidecar's admin port at
// /app-health/<container>/<livez|readyz|startupz>, and the original goes into the
// proxy config (admin.appProbes) for the sidecar to run against the app on
// localhost. Everything else in the probe (delays, thresholds, timeout) stays.
import type { Container, Probe } from './k8s.js';
import { isObject } from './k8s.js';
import { APP_HEALTH_PREFIX, PROBES, type ProbeKind } from './names.js';
import { parsePort } from './values.js';

/** One entry of the proxy config's admin.appProbes (proxy/src/config/schema.ts). */
export interface AppProbeSpec {
  httpGet?: { port: number; path: string; scheme: 'HTTP' | 'HTTPS'; httpHeaders?: { name: string; value: string }[] };
  tcpSocket?: { port: number };
  grpc?: { port: number; service?: string };
  timeoutSeconds: number;
}

export interface ProbeRewrite {
  containers: Container[];
  /** `<container>/<short>` -> the original probe. */
  appProbes: Record<string, AppProbeSpec>;
  warnings: string[];
}

const CONTAINER_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export function appHealthPath(container: string, kind: ProbeKind): string {
  return `${APP_HEALTH_PREFIX}${container}/${PROBES[kind]}`;
}

/** Rewrites the probes of `containers` (new objects; the input is not touched). */
export function rewriteProbes(containers: readonly Container[], adminPort: number): ProbeRewrite {
  const appProbes: Record<string, AppProbeSpec> = {};
  const warnings: string[] = [];
  const out = containers.map((c) => {
    let next: Container = c;
    for (const kind of Object.keys(PROBES) as ProbeKind[]) {
      const probe = c[kind];
      if (!isObject(probe)) continue;
      const r = original(c, kind, probe as Probe);
      if (!('spec' in r)) {
        if (r.warning) warnings.push(r.warning);
        continue;
      }
      appProbes[`${c.name}/${PROBES[kind]}`] = r.spec;
      next = { ...next, [kind]: redirect(probe as Probe, appHealthPath(c.name, kind), adminPort) };
    }
    return next;
  });
  return { containers: out, appProbes, warnings };
}

function original(c: Container, kind: ProbeKind, probe: Probe): { spec: AppProbeSpec } | { skip: true; warning?: string } {
  const where = `container ${c.name} ${kind}`;
  if (!CONTAINER_NAME.test(c.name)) return { skip: true, warning: `${where}: not rewritten: the container name is not a DNS label` };
  const timeoutSeconds = typeof probe.timeoutSeconds === 'number' && probe.timeoutSeconds > 0 ? probe.timeoutSeconds : 1;
  if (isObject(probe.httpGet)) {
    const h = probe.httpGet;
    if (h.host) return { skip: true, warning: `${where}: not rewritten: it probes host ${h.host}, not the pod` };
    const port = resolvePort(c, h.port);
    if (port === undefined) return { skip: true, warning: `${where}: not rewritten: port ${JSON.stringify(h.port)} is not a port of the container` };
    const scheme = h.scheme === 'HTTPS' ? 'HTTPS' : 'HTTP';
    const path = typeof h.path === 'string' && h.path.startsWith('/') ? h.path : `/${h.path ?? ''}`;
    const headers = Array.isArray(h.httpHeaders) ? h.httpHeaders.filter((x) => isObject(x) && typeof x.name === 'string' && x.name !== '') : [];
    const httpGet = { port, path, scheme, ...(headers.length ? { httpHeaders: headers.map((x) => ({ name: x.name, value: String(x.value ?? '') })) } : {}) } as const;
    return { spec: { httpGet, timeoutSeconds } };
  }
  if (isObject(probe.tcpSocket)) {
    const t = probe.tcpSocket;
    if (t.host) return { skip: true, warning: `${where}: not rewritten: it probes host ${t.host}, not the pod` };
    const port = resolvePort(c, t.port);
    if (port === undefined) return { skip: true, warning: `${where}: not rewritten: port ${JSON.stringify(t.port)} is not a port of the container` };
    return { spec: { tcpSocket: { port }, timeoutSeconds } };
  }
  if (isObject(probe.grpc)) {
    const g = probe.grpc;
    const port = typeof g.port === 'number' ? resolvePort(c, g.port) : undefined;
    if (port === undefined) return { skip: true, warning: `${where}: not rewritten: grpc port ${JSON.stringify(g.port)} is not a port number` };
    return { spec: { grpc: { port, ...(typeof g.service === 'string' && g.service !== '' ? { service: g.service } : {}) }, timeoutSeconds } };
  }
  return { skip: true };
}

/** Kubelet's rule: a name of one of the container's ports, or a number (possibly as a string). */
export function resolvePort(c: Container, port: unknown): number | undefined {
  if (typeof port === 'number') return Number.isInteger(port) && port >= 1 && port <= 65535 ? port : undefined;
  if (typeof port !== 'string') return undefined;
  const named = (Array.isArray(c.ports) ? c.ports : []).find((p) => isObject(p) && p.name === port);
  if (named && typeof named.containerPort === 'number') return named.containerPort;
  return parsePort(port);
}

/** The probe with its handler replaced by an httpGet on the admin port, keys kept in order. */
function redirect(probe: Probe, path: string, adminPort: number): Probe {
  const out: Probe = {};
  let placed = false;
  for (const [k, v] of Object.entries(probe)) {
    if (k === 'httpGet' || k === 'tcpSocket' || k === 'grpc') {
      if (!placed) out.httpGet = { path, port: adminPort, scheme: 'HTTP' };
      placed = true;
    } else {
      out[k] = v;
    }
  }
  return out;
}

// Prometheus scraping through the sidecar. A pod annotated
// `prometheus.io/scrape: "true"` gets its port/path annotations pointed at the
// sidecar's merged endpoint (admin port, /stats/prometheus); the sidecar fetches
// the app's own metrics from the original port and path on localhost
// (admin.appMetrics) and serves both. The originals are recorded in
// tlsmesh.io/prometheus-original-* so the rewrite can be undone or repeated.
import type { Container } from './k8s.js';
import { isObject } from './k8s.js';
import { ANNOTATION, MERGED_METRICS_PATH, PROMETHEUS } from './names.js';
import { parsePort } from './values.js';

export interface PrometheusRewrite {
  annotations: Record<string, string>;
  /** The app's own metrics URL for the proxy config; absent when the app declares no port. */
  appMetrics?: string;
  warnings: string[];
}

export function rewritePrometheus(
  annotations: Readonly<Record<string, string>>,
  containers: readonly Container[],
  adminPort: number,
): PrometheusRewrite | undefined {
  if (annotations[PROMETHEUS.scrape] !== 'true') return undefined;
  const warnings: string[] = [];
  const target = String(adminPort);
  const annotatedPort = annotations[PROMETHEUS.port] === target ? undefined : annotations[PROMETHEUS.port];
  const portText = annotations[ANNOTATION.prometheusOriginalPort] ?? annotatedPort ?? firstPort(containers);
  const path = annotations[ANNOTATION.prometheusOriginalPath] ?? (annotations[PROMETHEUS.path] === MERGED_METRICS_PATH ? undefined : annotations[PROMETHEUS.path]) ?? '/metrics';
  const scheme = annotations[ANNOTATION.prometheusOriginalScheme] ?? annotations[PROMETHEUS.scheme];

  const out: Record<string, string> = { ...annotations, [PROMETHEUS.port]: target, [PROMETHEUS.path]: MERGED_METRICS_PATH };
  if (scheme !== undefined) out[PROMETHEUS.scheme] = 'http';
  let appMetrics: string | undefined;
  if (portText !== undefined) {
    out[ANNOTATION.prometheusOriginalPort] = portText;
    const port = parsePort(portText);
    if (port === undefined) warnings.push(`${PROMETHEUS.port}: ${JSON.stringify(portText)} is not a port; only the sidecar's metrics are served`);
    else appMetrics = `${scheme === 'https' ? 'https' : 'http'}://127.0.0.1:${port}${path.startsWith('/') ? path : `/${path}`}`;
  }
  out[ANNOTATION.prometheusOriginalPath] = path;
  if (scheme !== undefined) out[ANNOTATION.prometheusOriginalScheme] = scheme;
  return { annotations: out, ...(appMetrics ? { appMetrics } : {}), warnings };
}

/** Without prometheus.io/port, Prometheus' usual pod job scrapes the declared ports: take the first. */
function firstPort(containers: readonly Container[]): string | undefined {
  for (const c of containers) {
    for (const p of Array.isArray(c.ports) ? c.ports : []) {
      if (isObject(p) && typeof p.containerPort === 'number' && (p.protocol === undefined || p.protocol === 'TCP')) return String(p.containerPort);
    }
  }
  return undefined;
}

// The sidecar's own config, generated from the pod: transparent inbound and
// outbound listeners, the admin port (reachable by kubelet and Prometheus), the
// identity directory, the app's probes and metrics. Typed against the proxy's
// schema input, and a test parses every generated config with that schema.
import type { AccessLogMode } from '../../proxy/src/access-log.js';
import type { ProxyConfigInput } from '../../proxy/src/config/schema.js';
import { ADMIN_PORT, INBOUND_CAPTURE_PORT, OUTBOUND_CAPTURE_PORT } from '../../proxy/src/defaults.js';
import { toYaml } from './config-yaml.js';
import type { AppProbeSpec } from './probes.js';

export interface ProxyConfigParams {
  trustDomain: string;
  logLevel: 'debug' | 'info' | 'warn' | 'error' | 'silent';
  accessLog?: AccessLogMode;
  drainSeconds?: number;
  identityDir: string;
  trustBundle?: string;
  appMetrics?: string;
  appProbes: Readonly<Record<string, AppProbeSpec>>;
  inbound: { protocol: 'tcp' | 'http'; tls: 'mutual' | 'server' | 'permissive'; allow?: readonly string[]; pins?: readonly string[] };
  outbound: { protocol: 'tcp' | 'http'; meshNetworks?: readonly string[] };
  /** false: the listeners neither offer nor take multiplexing (absent: the proxy's default, on). */
  multiplex?: boolean;
}

export function proxyConfigFor(p: ProxyConfigParams): ProxyConfigInput {
  const hasProbes = Object.keys(p.appProbes).length > 0;
  return {
    trustDomain: p.trustDomain,
    ...(p.drainSeconds !== undefined ? { drainSeconds: p.drainSeconds } : {}),
    logLevel: p.logLevel,
    ...(p.accessLog ? { accessLog: p.accessLog } : {}),
    identity: { dir: p.identityDir, ...(p.trustBundle ? { trustBundle: p.trustBundle } : {}) },
    admin: {
      // All interfaces: kubelet probes and Prometheus reach it at the pod IP; `tlsmesh init` never captures it.
      listen: `0.0.0.0:${ADMIN_PORT}`,
      ...(p.appMetrics ? { appMetrics: p.appMetrics } : {}),
      ...(hasProbes ? { appProbes: { ...p.appProbes } as Record<string, AppProbeSpec> } : {}),
    },
    inbound: [
      {
        name: 'inbound',
        listen: `0.0.0.0:${INBOUND_CAPTURE_PORT}`,
        forward: 'original',
        protocol: p.inbound.protocol,
        tls: p.inbound.tls,
        ...(p.inbound.allow ? { allow: [...p.inbound.allow] } : {}),
        ...(p.inbound.pins ? { pins: [...p.inbound.pins] } : {}),
        ...(p.multiplex === false && p.inbound.tls !== 'server' ? { multiplex: false } : {}),
      },
    ],
    outbound: [
      {
        name: 'outbound',
        listen: `127.0.0.1:${OUTBOUND_CAPTURE_PORT}`,
        connect: 'original',
        protocol: p.outbound.protocol,
        ...(p.outbound.meshNetworks ? { meshNetworks: [...p.outbound.meshNetworks] } : {}),
        ...(p.multiplex === false ? { multiplex: false } : {}),
      },
    ],
  };
}

export function proxyConfigYaml(p: ProxyConfigParams): string {
  return toYaml(proxyConfigFor(p) as Parameters<typeof toYaml>[0]);
}

// Turn the proxy config the injector generated for a pod into one that runs on
// 127.0.0.1 in a test: no transparent capture here (that needs a network
// namespace and iptables), so the inbound listener forwards to the app's port
// instead of `original`, ports are free ones, and the identity is a temp Secret
// dir. Everything else (probes, app metrics, allow-lists, pins, protocol, TLS
// mode) is kept as the injector wrote it. For tests only.
import { parse } from 'yaml';
import { ANNOTATION } from '../names.js';
import type { PodLike } from '../k8s.js';

export interface Localize {
  adminPort: number;
  inboundPort: number;
  appPort: number;
  identityDir: string;
}

export function generatedProxyConfig(pod: PodLike): Record<string, unknown> {
  const text = pod.metadata?.annotations?.[ANNOTATION.proxyConfig];
  if (text === undefined) throw new Error('the pod has no generated proxy config');
  return parse(text) as Record<string, unknown>;
}

export function localize(config: Record<string, unknown>, l: Localize): Record<string, unknown> {
  const admin = { ...(config.admin as object), listen: `127.0.0.1:${l.adminPort}` };
  const inbound = (config.inbound as Record<string, unknown>[]).map((i) => ({ ...i, listen: `127.0.0.1:${l.inboundPort}`, forward: `127.0.0.1:${l.appPort}` }));
  return { ...config, identity: { ...(config.identity as object), dir: l.identityDir }, admin, inbound, outbound: [] };
}

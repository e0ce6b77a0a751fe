import { loadConfig, type DeepReadonly } from './load.js';
import { proxyConfigSchema, type ProxyConfig } from './schema.js';

import type { InboundConfig as In, OutboundConfig as Out, UpstreamTlsConfig as Up } from './schema.js';

export type { ProxyConfig } from './schema.js';
export type InboundConfig = DeepReadonly<In>;
export type OutboundConfig = DeepReadonly<Out>;
export type UpstreamTlsConfig = DeepReadonly<Up>;
export { proxyConfigSchema } from './schema.js';
export { loadConfig, parseConfig, parseYaml, formatPath, type DeepReadonly } from './load.js';
export { parseHostPort, formatHostPort, parseCidr, type HostPort } from './fields.js';

export type FrozenProxyConfig = DeepReadonly<ProxyConfig>;

export function loadProxyConfig(file: string): FrozenProxyConfig {
  return loadConfig(file, proxyConfigSchema);
}

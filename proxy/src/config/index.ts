import { loadConfig, type DeepReadonly } from './load.js';
import { proxyConfigSchema, type ProxyConfig } from './schema.js';

export type { ProxyConfig, InboundConfig, OutboundConfig, UpstreamTlsConfig } from './schema.js';
export { proxyConfigSchema } from './schema.js';
export { loadConfig, parseConfig, parseYaml, formatPath, type DeepReadonly } from './load.js';
export { parseHostPort, formatHostPort, parseCidr, type HostPort } from './fields.js';

export type FrozenProxyConfig = DeepReadonly<ProxyConfig>;

export function loadProxyConfig(file: string): FrozenProxyConfig {
  return loadConfig(file, proxyConfigSchema);
}

// Every name the injector writes into a pod, in one place.
export const PREFIX = 'tlsmesh.io/';

export const ANNOTATION = {
  inject: 'tlsmesh.io/inject',
  status: 'tlsmesh.io/status',
  proxyConfig: 'tlsmesh.io/proxy-config',
  prometheusOriginalPort: 'tlsmesh.io/prometheus-original-port',
  prometheusOriginalPath: 'tlsmesh.io/prometheus-original-path',
  prometheusOriginalScheme: 'tlsmesh.io/prometheus-original-scheme',
} as const;

/** The namespace label that opts a whole namespace in (`enabled`) or out (`disabled`). */
export const NAMESPACE_LABEL = 'tlsmesh.io/inject';

export const PROMETHEUS = {
  scrape: 'prometheus.io/scrape',
  port: 'prometheus.io/port',
  path: 'prometheus.io/path',
  scheme: 'prometheus.io/scheme',
} as const;
export const MERGED_METRICS_PATH = '/stats/prometheus';

export const PROXY_CONTAINER = 'tlsmesh-proxy';
export const INIT_CONTAINER = 'tlsmesh-init';
export const IDENTITY_VOLUME = 'tlsmesh-identity';
export const CONFIG_VOLUME = 'tlsmesh-config';
export const BUNDLE_VOLUME = 'tlsmesh-bundle';
export const ADMIN_PORT_NAME = 'tlsmesh-admin';

/** Where the proxy's generated config is mounted (downward API volume of the proxy-config annotation). */
export const CONFIG_MOUNT_PATH = '/etc/tlsmesh/proxy';
export const CONFIG_FILE = 'config.yaml';
export const BUNDLE_MOUNT_PATH = '/etc/tlsmesh/bundle';
export const BUNDLE_FILE = 'bundle.pem';

/** The probe kinds and the short names the sidecar serves them under: /app-health/<container>/<short>. */
export const PROBES = {
  livenessProbe: 'livez',
  readinessProbe: 'readyz',
  startupProbe: 'startupz',
} as const;
export type ProbeKind = keyof typeof PROBES;
export const APP_HEALTH_PREFIX = '/app-health/';

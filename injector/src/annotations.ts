// Pod annotations that tune injection: a table of annotation -> parser -> the
// option it sets. Every problem is reported at once; unknown `tlsmesh.io/`
// annotations are warnings (a typo should be visible, not fatal).
import { ACCESS_LOG_MODES, type AccessLogMode } from '../../proxy/src/access-log.js';
import { ANNOTATION, PREFIX } from './names.js';
import {
  parseBool,
  parseCidrList,
  parseEnum,
  parseIdPatterns,
  parseImage,
  parseInboundPorts,
  parsePins,
  parsePortList,
  parseQuantity,
  type Parsed,
} from './values.js';

/** What annotations can override, one field per annotation. */
export interface PodOptions {
  mode?: 'native' | 'container';
  image?: string;
  logLevel?: 'debug' | 'info' | 'warn' | 'error' | 'silent';
  accessLog?: AccessLogMode;
  cpuRequest?: string;
  memoryRequest?: string;
  cpuLimit?: string;
  memoryLimit?: string;
  inboundPorts?: 'all' | number[];
  excludeInboundPorts?: number[];
  excludeOutboundPorts?: number[];
  excludeOutboundCidrs?: string[];
  meshNetworks?: string[];
  multiplex?: boolean;
  inboundProtocol?: 'tcp' | 'http';
  inboundTls?: 'mutual' | 'server' | 'permissive';
  allow?: string[];
  pins?: string[];
  rewriteProbes?: boolean;
  prometheusMerge?: boolean;
}

type Entry = { [K in keyof PodOptions]-?: { option: K; parse: (text: string) => Parsed<NonNullable<PodOptions[K]>>; doc: string } }[keyof PodOptions];

const entry = <K extends keyof PodOptions>(option: K, parse: (text: string) => Parsed<NonNullable<PodOptions[K]>>, doc: string): Entry =>
  ({ option, parse, doc }) as Entry;

/** The table: annotation name -> option. docs/injector.md lists the same rows (a test keeps them in step). */
export const POD_ANNOTATIONS: Readonly<Record<string, Entry>> = {
  'tlsmesh.io/sidecar-mode': entry('mode', parseEnum(['native', 'container'] as const), 'native or container'),
  'tlsmesh.io/proxy-image': entry('image', parseImage, 'the sidecar image'),
  'tlsmesh.io/proxy-log-level': entry('logLevel', parseEnum(['debug', 'info', 'warn', 'error', 'silent'] as const), 'the proxy log level'),
  'tlsmesh.io/proxy-access-log': entry('accessLog', parseEnum(ACCESS_LOG_MODES), 'which requests and connections the proxy logs'),
  'tlsmesh.io/proxy-cpu-request': entry('cpuRequest', parseQuantity, 'sidecar CPU request'),
  'tlsmesh.io/proxy-memory-request': entry('memoryRequest', parseQuantity, 'sidecar memory request'),
  'tlsmesh.io/proxy-cpu-limit': entry('cpuLimit', parseQuantity, 'sidecar CPU limit'),
  'tlsmesh.io/proxy-memory-limit': entry('memoryLimit', parseQuantity, 'sidecar memory limit'),
  'tlsmesh.io/inbound-ports': entry('inboundPorts', parseInboundPorts, 'inbound ports captured: all or P,P'),
  'tlsmesh.io/exclude-inbound-ports': entry('excludeInboundPorts', parsePortList, 'inbound ports never captured'),
  'tlsmesh.io/exclude-outbound-ports': entry('excludeOutboundPorts', parsePortList, 'outbound ports never captured'),
  'tlsmesh.io/exclude-outbound-cidrs': entry('excludeOutboundCidrs', parseCidrList, 'outbound CIDRs never captured'),
  'tlsmesh.io/mesh-networks': entry('meshNetworks', parseCidrList, 'outbound destinations that get mTLS'),
  'tlsmesh.io/multiplex': entry('multiplex', parseBool, 'tcp connections and http requests to and from other sidecars over one mTLS connection per peer'),
  'tlsmesh.io/inbound-protocol': entry('inboundProtocol', parseEnum(['tcp', 'http'] as const), 'tcp or http'),
  'tlsmesh.io/inbound-tls': entry('inboundTls', parseEnum(['mutual', 'server', 'permissive'] as const), 'mutual, server or permissive'),
  'tlsmesh.io/allow': entry('allow', parseIdPatterns, 'SPIFFE IDs (or ID/*) admitted inbound'),
  'tlsmesh.io/pins': entry('pins', parsePins, 'SPKI pins required of inbound peers'),
  'tlsmesh.io/rewrite-probes': entry('rewriteProbes', parseBool, 'rewrite httpGet/tcpSocket probes'),
  'tlsmesh.io/prometheus-merge': entry('prometheusMerge', parseBool, 'merge the app metrics'),
};

/** Annotations the injector itself reads or writes (not options, but not typos either). */
const OWN: ReadonlySet<string> = new Set(Object.values(ANNOTATION));

export interface ReadOptions {
  options: PodOptions;
  /** One line per bad annotation: `tlsmesh.io/x: why`. Empty when all are good. */
  errors: string[];
  warnings: string[];
}

export function readPodOptions(annotations: Readonly<Record<string, unknown>> | undefined): ReadOptions {
  const options: PodOptions = {};
  const errors: string[] = [];
  const warnings: string[] = [];
  for (const [key, raw] of Object.entries(annotations ?? {})) {
    if (!key.startsWith(PREFIX)) continue;
    const row = POD_ANNOTATIONS[key];
    if (!row) {
      if (!OWN.has(key)) warnings.push(`${key}: unknown annotation${suggest(key)}`);
      continue;
    }
    if (typeof raw !== 'string') {
      errors.push(`${key}: expected a string value`);
      continue;
    }
    const r = row.parse(raw);
    if (r.ok) (options as Record<string, unknown>)[row.option] = r.value;
    else errors.push(`${key}: ${r.problem}`);
  }
  return { options, errors, warnings };
}

function suggest(key: string): string {
  const near = [...Object.keys(POD_ANNOTATIONS), ANNOTATION.inject].find((k) => distance(k, key) <= 2);
  return near ? ` (did you mean ${near}?)` : '';
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}

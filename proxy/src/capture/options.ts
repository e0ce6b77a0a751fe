// `tlsmesh init` flag values -> a frozen CaptureOptions, every error a UsageError
// naming its flag. Pure: nothing here touches the system.
import { parseCidr } from '../config/fields.js';
import { ADMIN_PORT, INBOUND_CAPTURE_PORT, OUTBOUND_CAPTURE_PORT, PROXY_UID } from '../defaults.js';
import { UsageError } from '../errors.js';

export interface Cidr {
  family: 4 | 6;
  /** Canonical text, as iptables-save prints it: network address / prefix length. */
  text: string;
}

export interface CaptureOptions {
  inboundPort: number;
  outboundPort: number;
  proxyUid: number;
  /** Inbound destination ports redirected to inboundPort. */
  inboundPorts: 'all' | readonly number[];
  /** Never redirected inbound; always holds the admin port. */
  excludeInboundPorts: readonly number[];
  excludeOutboundPorts: readonly number[];
  excludeOutboundCidrs: readonly Cidr[];
}

export interface InitFlags {
  'inbound-port'?: string;
  'outbound-port'?: string;
  'proxy-uid'?: string;
  'inbound-ports'?: string;
  'exclude-inbound-ports'?: string;
  'exclude-outbound-ports'?: string;
  'exclude-outbound-cidrs'?: string;
}

export function captureOptions(flags: InitFlags): CaptureOptions {
  const inboundPorts = flags['inbound-ports'] ?? 'all';
  return Object.freeze({
    inboundPort: port('inbound-port', flags['inbound-port'], INBOUND_CAPTURE_PORT),
    outboundPort: port('outbound-port', flags['outbound-port'], OUTBOUND_CAPTURE_PORT),
    proxyUid: uid('proxy-uid', flags['proxy-uid'], PROXY_UID),
    inboundPorts: inboundPorts.trim() === 'all' ? 'all' : nonEmpty('inbound-ports', portList('inbound-ports', inboundPorts)),
    excludeInboundPorts: Object.freeze(unique([ADMIN_PORT, ...portList('exclude-inbound-ports', flags['exclude-inbound-ports'] ?? '')])),
    excludeOutboundPorts: portList('exclude-outbound-ports', flags['exclude-outbound-ports'] ?? ''),
    excludeOutboundCidrs: cidrList('exclude-outbound-cidrs', flags['exclude-outbound-cidrs'] ?? ''),
  });
}

function fail(flag: string, why: string): never {
  throw new UsageError(`init: --${flag}: ${why}`);
}

function parsePort(flag: string, text: string): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) < 1 || Number(text) > 65535) fail(flag, `expected a port 1-65535, got ${JSON.stringify(text)}`);
  return Number(text);
}

function port(flag: string, text: string | undefined, dflt: number): number {
  return text === undefined ? dflt : parsePort(flag, text.trim());
}

function uid(flag: string, text: string | undefined, dflt: number): number {
  if (text === undefined) return dflt;
  const t = text.trim();
  if (!/^\d{1,10}$/.test(t) || Number(t) > 4294967294) fail(flag, `expected a numeric uid, got ${JSON.stringify(text)}`);
  return Number(t);
}

/** `P,P,...`; an empty value is an empty list (templates often render one). */
function items(text: string): string[] {
  return text.split(',').map((s) => s.trim()).filter((s) => s !== '');
}

function portList(flag: string, text: string): readonly number[] {
  return Object.freeze(unique(items(text).map((p) => parsePort(flag, p))));
}

function nonEmpty(flag: string, ports: readonly number[]): readonly number[] {
  if (ports.length === 0) fail(flag, 'expected all or a comma-separated list of ports');
  return ports;
}

function cidrList(flag: string, text: string): readonly Cidr[] {
  const out = items(text).map((c) => canonicalCidr(c) ?? fail(flag, `expected a CIDR like 10.0.0.0/8, got ${JSON.stringify(c)}`));
  const seen = new Set<string>();
  return Object.freeze(out.filter((c) => !seen.has(c.text) && seen.add(c.text)));
}

function unique<T>(xs: T[]): T[] {
  return [...new Set(xs)];
}

/** `10.1.2.3/8` -> `10.0.0.0/8`; a bare address is a host route (/32 or /128). */
export function canonicalCidr(text: string): Cidr | undefined {
  const withBits = text.includes('/') ? text : `${text}/${text.includes(':') ? 128 : 32}`;
  const c = parseCidr(withBits);
  if (!c) return undefined;
  const width = c.family === 4 ? 32 : 128;
  const mask = ((1n << BigInt(c.bits)) - 1n) << BigInt(width - c.bits);
  const base = c.base & mask;
  const addr = c.family === 4 ? formatV4(base) : formatV6(base);
  return { family: c.family, text: `${addr}/${c.bits}` };
}

function formatV4(n: bigint): string {
  return [24n, 16n, 8n, 0n].map((s) => String((n >> s) & 255n)).join('.');
}

/** RFC 5952 text, the way glibc's inet_ntop (and so iptables-save) writes it. */
export function formatV6(n: bigint): string {
  const words = Array.from({ length: 8 }, (_, i) => Number((n >> BigInt(112 - 16 * i)) & 0xffffn));
  let best = { base: -1, len: 0 };
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > best.len) best = { base: i, len: j - i };
    i = j;
  }
  if (best.len < 2) best = { base: -1, len: 0 };
  const embedV4 = best.base === 0 && (best.len === 6 || (best.len === 5 && words[5] === 0xffff));
  const parts: string[] = [];
  for (let i = 0; i < 8; i++) {
    if (i === best.base) {
      parts.push(i === 0 ? ':' : '');
      i += best.len - 1;
      if (i === 7) parts.push('');
      continue;
    }
    if (embedV4 && i === 6) {
      parts.push(formatV4(n & 0xffffffffn));
      break;
    }
    parts.push(words[i]!.toString(16));
  }
  return parts.join(':');
}

// Field types shared by every config schema (proxy, injector, controller).
import { isIPv4, isIPv6 } from 'node:net';
import { z } from 'zod';
import { patternProblem, spiffeIdProblem, trustDomainProblem } from '../identity/spiffe-id.js';
import { pinProblem } from '../identity/pin.js';

export interface HostPort {
  host: string;
  port: number;
}

const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9_]([A-Za-z0-9_-]{0,62})?(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,62})?)*\.?$/;

/** `host:port`, `[v6]:port` -> {host, port}, or undefined. */
export function parseHostPort(text: string): HostPort | undefined {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  if (!m) return undefined;
  const host = m[1] ?? m[2]!;
  const port = Number(m[3]);
  if (port > 65535) return undefined;
  if (m[1] !== undefined && !isIPv6(host)) return undefined;
  if (m[2] !== undefined && !isIPv4(host) && !HOSTNAME.test(host)) return undefined;
  return { host, port };
}

export function formatHostPort({ host, port }: HostPort): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

export const hostPort = z.string().transform((s, ctx) => {
  const hp = parseHostPort(s);
  if (!hp) {
    ctx.addIssue({ code: 'custom', message: 'expected host:port' });
    return z.NEVER;
  }
  return hp;
});

/** host:port, or `original` (the redirected connection's original destination). */
export const hostPortOrOriginal = z.string().transform((s, ctx): HostPort | 'original' => {
  if (s === 'original') return 'original';
  const hp = parseHostPort(s);
  if (!hp) {
    ctx.addIssue({ code: 'custom', message: 'expected host:port or original' });
    return z.NEVER;
  }
  return hp;
});

export const trustDomain = z.string().superRefine((s, ctx) => {
  const p = trustDomainProblem(s);
  if (p) ctx.addIssue({ code: 'custom', message: `invalid trust domain: ${p}` });
});

export const spiffeId = z.string().superRefine((s, ctx) => {
  const p = spiffeIdProblem(s);
  if (p) ctx.addIssue({ code: 'custom', message: `invalid SPIFFE ID: ${p}` });
});

export const idPattern = z.string().superRefine((s, ctx) => {
  const p = patternProblem(s);
  if (p) ctx.addIssue({ code: 'custom', message: `invalid SPIFFE ID pattern: ${p}` });
});

export const pin = z.string().superRefine((s, ctx) => {
  const p = pinProblem(s);
  if (p) ctx.addIssue({ code: 'custom', message: p });
});

export function parseCidr(text: string): { family: 4 | 6; base: bigint; bits: number } | undefined {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(text);
  if (!m) return undefined;
  const addr = m[1]!;
  const bits = Number(m[2]);
  if (isIPv4(addr)) {
    if (bits > 32) return undefined;
    const base = addr.split('.').reduce((acc, o) => (acc << 8n) | BigInt(Number(o)), 0n);
    return { family: 4, base, bits };
  }
  if (isIPv6(addr)) {
    if (bits > 128) return undefined;
    return { family: 6, base: ipv6ToBigInt(addr), bits };
  }
  return undefined;
}

export function ipv6ToBigInt(addr: string): bigint {
  let text = addr;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const o = v4[1]!.split('.').map(Number);
    text = text.slice(0, -v4[1]!.length) + `${((o[0]! << 8) | o[1]!).toString(16)}:${((o[2]! << 8) | o[3]!).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n);
}

export const cidr = z.string().superRefine((s, ctx) => {
  if (!parseCidr(s)) ctx.addIssue({ code: 'custom', message: 'expected a CIDR like 10.0.0.0/8' });
});

export const seconds = (min = 0) => z.number().min(min, `expected a number of seconds >= ${min}`);

export const httpUrl = z.string().superRefine((s, ctx) => {
  try {
    const u = new URL(s);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('scheme');
  } catch {
    ctx.addIssue({ code: 'custom', message: 'expected an http:// or https:// URL' });
  }
});

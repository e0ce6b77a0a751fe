// The config of a TLS offload listener (docs/offloading.md): SNI certificates,
// the client-facing TLS policy, HSTS, the plaintext redirect listener and ACME.
// Every field here is documented there; a test keeps the two in step.
import { getCiphers } from 'node:tls';
import { z } from 'zod';
import { hostPort, httpUrl } from './fields.js';

/** A DNS server name as a client sends it in SNI, or `*.suffix` (one label). */
export const SERVER_NAME = /^(\*\.)?(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

export function serverNameProblem(name: string, wildcard = true): string | undefined {
  if (name !== name.toLowerCase()) return 'expected lowercase';
  if (!SERVER_NAME.test(name)) return 'expected a DNS name like www.example.com or *.example.com';
  if (name.startsWith('*.') && !wildcard) return 'wildcards cannot be validated with HTTP-01 (use certificates from cert-manager with DNS-01)';
  if (name.startsWith('*.') && !name.slice(2).includes('.')) return 'a wildcard needs at least two labels after *. (like *.example.com)';
  return undefined;
}

const serverName = (wildcard = true) =>
  z.string().superRefine((s, ctx) => {
    const p = serverNameProblem(s, wildcard);
    if (p) ctx.addIssue({ code: 'custom', message: p });
  });

const KNOWN_CIPHERS = new Set(getCiphers());

/** TLS 1.3 suites and the Mozilla "intermediate" TLS 1.2 suites: ECDHE, AEAD only. */
export const DEFAULT_CIPHERS = [
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
] as const;
export const DEFAULT_CURVES = ['X25519', 'P-256', 'P-384'] as const;
const KNOWN_CURVES = new Set(['X25519', 'X448', 'P-256', 'P-384', 'P-521', 'prime256v1', 'secp384r1', 'secp521r1']);

const cipher = z.string().superRefine((s, ctx) => {
  if (!KNOWN_CIPHERS.has(s.toLowerCase())) ctx.addIssue({ code: 'custom', message: `unknown cipher suite ${s} (OpenSSL or IANA TLS 1.3 names, e.g. ECDHE-RSA-AES128-GCM-SHA256)` });
});
const curve = z.string().superRefine((s, ctx) => {
  if (!KNOWN_CURVES.has(s)) ctx.addIssue({ code: 'custom', message: `unknown curve ${s} (expected one of ${[...KNOWN_CURVES].join(', ')})` });
});

function noDuplicates<T>(items: readonly T[], ctx: z.RefinementCtx, what: string): void {
  const seen = new Set<T>();
  items.forEach((item, i) => {
    if (seen.has(item)) ctx.addIssue({ code: 'custom', path: [i], message: `${what} ${String(item)} is listed twice` });
    seen.add(item);
  });
}

export const tlsPolicy = z.strictObject({
  minVersion: z.enum(['1.2', '1.3']).default('1.2'),
  ciphers: z
    .array(cipher)
    .min(1, 'expected at least one cipher suite')
    .superRefine((c, ctx) => noDuplicates(c, ctx, 'cipher suite'))
    .default([...DEFAULT_CIPHERS]),
  curves: z
    .array(curve)
    .min(1, 'expected at least one curve')
    .superRefine((c, ctx) => noDuplicates(c, ctx, 'curve'))
    .default([...DEFAULT_CURVES]),
  /** Staple OCSP responses for certificates that name a responder. */
  ocspStapling: z.boolean().default(true),
});

export const certificateEntry = z.strictObject({
  /** A cert-manager Secret directory: tls.crt, tls.key, and optionally ca.crt (a private CA). */
  dir: z.string().min(1, 'expected a directory path'),
  /** Server names this certificate answers for; default: its DNS SANs. */
  names: z
    .array(serverName())
    .min(1, 'expected at least one name (or leave names out to use the DNS SANs)')
    .superRefine((n, ctx) => noDuplicates(n, ctx, 'name'))
    .optional(),
});

const ONE_YEAR = 31_536_000;

export const hsts = z
  .strictObject({
    maxAge: z.number().int('expected whole seconds').min(0, 'expected seconds >= 0').default(ONE_YEAR),
    includeSubDomains: z.boolean().default(false),
    preload: z.boolean().default(false),
  })
  .superRefine((h, ctx) => {
    if (h.preload && (h.maxAge < ONE_YEAR || !h.includeSubDomains)) {
      ctx.addIssue({ code: 'custom', path: ['preload'], message: `the preload list needs maxAge >= ${ONE_YEAR} and includeSubDomains: true` });
    }
  });

export const redirect = z.strictObject({
  /** The plaintext listener: answers 308 to https (and ACME HTTP-01 challenges), proxies nothing. */
  listen: hostPort,
  /** The port clients reach the https listener on (the Service port), used in Location; 443 is left out of the URL. */
  httpsPort: z.number().int().min(1, 'expected a port 1-65535').max(65535, 'expected a port 1-65535').default(443),
});

export const acme = z.strictObject({
  directory: httpUrl.refine((u) => u.startsWith('https://'), 'expected an https:// URL (RFC 8555)'),
  email: z.string().regex(/^[^@\s]+@[^@\s]+$/, 'expected an email address').optional(),
  names: z
    .array(serverName(false))
    .min(1, 'expected at least one name')
    .superRefine((n, ctx) => noDuplicates(n, ctx, 'name')),
  /** Where the account key and the issued certificates (Secret layout) are kept. */
  storageDir: z.string().min(1, 'expected a directory path'),
  /** Extra CAs that sign the ACME server's own HTTPS certificate (private ACME servers). */
  caBundle: z.string().min(1, 'expected a file path').optional(),
  keyType: z.enum(['ecdsa-p256', 'ecdsa-p384', 'rsa-2048', 'rsa-3072']).default('ecdsa-p256'),
  termsOfServiceAgreed: z.boolean().default(true),
});

/** The offload fields of an inbound listener, spread into its schema. */
export const offloadFields = {
  certificates: z.array(certificateEntry).min(1, 'expected at least one certificate').optional(),
  defaultCertificate: serverName().optional(),
  strictSni: z.boolean().default(false),
  tlsPolicy: tlsPolicy.optional(),
  hsts: hsts.optional(),
  redirect: redirect.optional(),
  acme: acme.optional(),
};

interface OffloadInput {
  protocol: string;
  tls: string;
  forward: unknown;
  certificates?: readonly { dir: string; names?: readonly string[] }[];
  defaultCertificate?: string;
  strictSni: boolean;
  tlsPolicy?: unknown;
  hsts?: unknown;
  redirect?: unknown;
  acme?: { names: readonly string[] };
}

/** Cross-field rules of an offload listener, each naming its field. */
export function checkOffload(l: OffloadInput, ctx: z.RefinementCtx): void {
  const used = (['certificates', 'defaultCertificate', 'tlsPolicy', 'hsts', 'redirect', 'acme'] as const).filter((f) => l[f] !== undefined);
  if (l.strictSni) used.push('strictSni' as never);
  for (const f of used) {
    if (l.tls !== 'server') ctx.addIssue({ code: 'custom', path: [f], message: 'only with tls: server (TLS offload)' });
  }
  if (l.hsts !== undefined && l.protocol !== 'http') ctx.addIssue({ code: 'custom', path: ['hsts'], message: 'only with protocol: http' });
  if (l.acme && !l.redirect) ctx.addIssue({ code: 'custom', path: ['acme'], message: 'needs redirect: HTTP-01 challenges are answered on the redirect listener' });
  if ((l.defaultCertificate !== undefined || l.strictSni) && !l.certificates && !l.acme) {
    ctx.addIssue({ code: 'custom', path: [l.defaultCertificate !== undefined ? 'defaultCertificate' : 'strictSni'], message: 'needs certificates or acme' });
  }
  const explicit = new Map<string, number>();
  (l.certificates ?? []).forEach((c, i) =>
    (c.names ?? []).forEach((n, j) => {
      const prev = explicit.get(n);
      if (prev !== undefined) ctx.addIssue({ code: 'custom', path: ['certificates', i, 'names', j], message: `${n} is already served by certificates[${prev}]` });
      else explicit.set(n, i);
    }),
  );
  l.acme?.names.forEach((n, j) => {
    const prev = explicit.get(n);
    if (prev !== undefined) ctx.addIssue({ code: 'custom', path: ['acme', 'names', j], message: `${n} is already served by certificates[${prev}]` });
  });
  const dirs = new Map<string, number>();
  (l.certificates ?? []).forEach((c, i) => {
    if (dirs.has(c.dir)) ctx.addIssue({ code: 'custom', path: ['certificates', i, 'dir'], message: `already used by certificates[${dirs.get(c.dir)}]` });
    dirs.set(c.dir, i);
  });
}

export type CertificateEntryConfig = z.output<typeof certificateEntry>;
export type TlsPolicyConfig = z.output<typeof tlsPolicy>;
export type HstsConfig = z.output<typeof hsts>;
export type RedirectConfig = z.output<typeof redirect>;
export type AcmeConfig = z.output<typeof acme>;

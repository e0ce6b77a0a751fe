// Which certificate answers which server name: an immutable table rebuilt
// whenever a certificate changes, read by the SNI callback on every handshake
// (two map lookups, no allocation). Exact names win over wildcards; a wildcard
// covers one label; earlier certificates win over later ones for the same name.
import { normalizeServerName, wildcardFor } from './names.js';
import type { ServerCertificate } from './webpki.js';

/** Label of handshakes without SNI (served the default certificate). */
export const NO_SNI = '(none)';
/** Label of handshakes whose SNI matches no configured name. Never the client's string. */
export const UNKNOWN_NAME = '(unknown)';

export interface SniEntry<C = unknown> {
  /** The source it came from (config field), for logs and /certs. */
  source: string;
  cert: ServerCertificate;
  /** The TLS context for this certificate (built once per certificate). */
  context: C;
}

export interface SniTable<C = unknown> {
  readonly exact: ReadonlyMap<string, SniEntry<C>>;
  readonly wildcard: ReadonlyMap<string, SniEntry<C>>;
  readonly fallback: SniEntry<C> | undefined;
  /** Every name served, with its certificate: the bounded label set of the metrics. */
  readonly names: ReadonlyMap<string, SniEntry<C>>;
}

export interface Match<C = unknown> {
  entry: SniEntry<C> | undefined;
  /** A configured name (exact or wildcard pattern), NO_SNI or UNKNOWN_NAME. */
  label: string;
}

/**
 * `entries` in priority order (config order). `defaultName` picks the
 * certificate for clients without SNI; default: the first entry.
 */
export function buildSniTable<C>(entries: readonly SniEntry<C>[], defaultName?: string): { table: SniTable<C>; shadowed: string[] } {
  const names = new Map<string, SniEntry<C>>();
  const shadowed: string[] = [];
  for (const e of entries) {
    for (const n of e.cert.names) {
      if (names.has(n)) shadowed.push(`${n} (${e.source}; served by ${names.get(n)!.source})`);
      else names.set(n, e);
    }
  }
  const exact = new Map<string, SniEntry<C>>();
  const wildcard = new Map<string, SniEntry<C>>();
  for (const [n, e] of names) (n.startsWith('*.') ? wildcard : exact).set(n, e);
  const partial: Omit<SniTable<C>, 'fallback'> = { exact, wildcard, names };
  const fallback = defaultName !== undefined ? matchIn(partial, defaultName).entry : entries[0];
  return { table: Object.freeze({ ...partial, fallback }), shadowed };
}

function matchIn<C>(t: Pick<SniTable<C>, 'exact' | 'wildcard'>, name: string): Match<C> {
  const exact = t.exact.get(name);
  if (exact) return { entry: exact, label: name };
  if (name.startsWith('*.')) return { entry: t.wildcard.get(name), label: t.wildcard.has(name) ? name : UNKNOWN_NAME };
  const w = wildcardFor(name);
  const wild = w !== undefined ? t.wildcard.get(w) : undefined;
  if (wild) return { entry: wild, label: w! };
  return { entry: undefined, label: UNKNOWN_NAME };
}

/** The certificate for a client's SNI (undefined entry: no configured name matches). */
export function lookupServerName<C>(t: SniTable<C>, servername: string | false | undefined | null): Match<C> {
  const n = normalizeServerName(servername);
  if (n === undefined) return { entry: t.fallback, label: NO_SNI };
  return matchIn(t, n);
}

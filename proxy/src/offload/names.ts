// Server names as TLS clients send them in SNI, and as certificates carry them
// in DNS SANs. A wildcard `*.example.com` covers exactly one more label
// (`a.example.com`, not `example.com`, not `a.b.example.com`), as RFC 6125 and
// every browser read it.

/** Lowercase, without a trailing dot; undefined for anything that is not a plausible DNS name. */
export function normalizeServerName(name: string | false | undefined | null): string | undefined {
  if (!name) return undefined;
  const n = name.endsWith('.') ? name.slice(0, -1).toLowerCase() : name.toLowerCase();
  if (n.length === 0 || n.length > 253) return undefined;
  return n;
}

/** The wildcard pattern that would cover `name` (`a.example.com` -> `*.example.com`), if any. */
export function wildcardFor(name: string): string | undefined {
  const dot = name.indexOf('.');
  if (dot <= 0 || name.indexOf('.', dot + 1) < 0) return undefined;
  return `*${name.slice(dot)}`;
}

/** Does the SAN (exact or `*.` wildcard) cover the name? Both lowercase. */
export function sanCovers(san: string, name: string): boolean {
  const s = san.toLowerCase();
  if (s === name) return true;
  if (name.startsWith('*.')) return false;
  return s.startsWith('*.') && wildcardFor(name) === s;
}

/** Does a certificate with these DNS SANs cover the configured name (which may itself be a wildcard)? */
export function certificateCovers(dnsNames: readonly string[], name: string): boolean {
  if (name.startsWith('*.')) return dnsNames.some((s) => s.toLowerCase() === name);
  return dnsNames.some((s) => sanCovers(s, name));
}

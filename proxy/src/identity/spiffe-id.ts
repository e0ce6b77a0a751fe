// SPIFFE IDs as a parsed type (SPIFFE-ID spec section 2), and the allow-list
// patterns the proxy matches them against: exact IDs and a trailing `/*`.

export class SpiffeId {
  private constructor(
    readonly trustDomain: string,
    /** '' or '/seg/seg...' */
    readonly path: string,
  ) {}

  toString(): string {
    return `spiffe://${this.trustDomain}${this.path}`;
  }

  static parse(text: string): SpiffeId {
    const problem = spiffeIdProblem(text);
    if (problem) throw new TypeError(`invalid SPIFFE ID ${JSON.stringify(text)}: ${problem}`);
    const rest = text.slice('spiffe://'.length);
    const slash = rest.indexOf('/');
    return slash < 0 ? new SpiffeId(rest, '') : new SpiffeId(rest.slice(0, slash), rest.slice(slash));
  }

  static tryParse(text: string): SpiffeId | undefined {
    return spiffeIdProblem(text) ? undefined : SpiffeId.parse(text);
  }

  /** The SPIFFE ID of a Kubernetes workload, as Istio and Linkerd spell it. */
  static ofServiceAccount(trustDomain: string, namespace: string, serviceAccount: string): SpiffeId {
    return SpiffeId.parse(`spiffe://${trustDomain}/ns/${namespace}/sa/${serviceAccount}`);
  }
}

const TRUST_DOMAIN = /^[a-z0-9._-]+$/;
const SEGMENT = /^[A-Za-z0-9._-]+$/;

/** Why `text` is not a SPIFFE ID, or undefined when it is one. */
export function spiffeIdProblem(text: string): string | undefined {
  if (text.length > 2048) return 'longer than 2048 bytes';
  if (!text.startsWith('spiffe://')) return 'scheme must be spiffe://';
  const rest = text.slice('spiffe://'.length);
  const slash = rest.indexOf('/');
  const td = slash < 0 ? rest : rest.slice(0, slash);
  if (td === '') return 'trust domain is empty';
  if (!TRUST_DOMAIN.test(td)) return 'trust domain may hold only a-z 0-9 . - _ (no port, user info or upper case)';
  if (slash < 0) return undefined;
  const path = rest.slice(slash);
  if (path === '/') return 'path must not end with /';
  for (const seg of path.slice(1).split('/')) {
    if (seg === '') return 'path has an empty segment or a trailing /';
    if (seg === '.' || seg === '..') return 'path has a . or .. segment';
    if (!SEGMENT.test(seg)) return 'path may hold only A-Z a-z 0-9 . - _ (no query or fragment)';
  }
  return undefined;
}

export function trustDomainProblem(td: string): string | undefined {
  if (td === '') return 'empty';
  if (td.length > 255) return 'longer than 255 bytes';
  return TRUST_DOMAIN.test(td) ? undefined : 'may hold only a-z 0-9 . - _';
}

/**
 * A compiled allow-list: exact IDs, and prefixes from `.../*` patterns. A prefix
 * `spiffe://td/ns/monitoring/` admits `.../ns/monitoring/x` but neither
 * `.../ns/monitoring` itself nor `.../ns/monitoringx/...`.
 */
export class IdMatcher {
  private constructor(
    private readonly exact: ReadonlySet<string>,
    private readonly prefixes: readonly string[],
  ) {}

  static compile(patterns: readonly string[]): IdMatcher {
    const exact = new Set<string>();
    const prefixes: string[] = [];
    for (const p of patterns) {
      const problem = patternProblem(p);
      if (problem) throw new TypeError(`invalid identity pattern ${JSON.stringify(p)}: ${problem}`);
      if (p.endsWith('/*')) prefixes.push(p.slice(0, -1));
      else exact.add(p);
    }
    return new IdMatcher(exact, prefixes);
  }

  get empty(): boolean {
    return this.exact.size === 0 && this.prefixes.length === 0;
  }

  matches(id: SpiffeId | string): boolean {
    const s = typeof id === 'string' ? id : id.toString();
    if (this.exact.has(s)) return true;
    for (const prefix of this.prefixes) {
      if (s.length > prefix.length && s.startsWith(prefix)) return true;
    }
    return false;
  }
}

/** Why `pattern` is not an allow-list entry (an ID, or an ID followed by `/*`). */
export function patternProblem(pattern: string): string | undefined {
  if (pattern.endsWith('/*')) {
    const base = pattern.slice(0, -2);
    // `spiffe://td/*` is allowed: any ID with a path in td.
    return spiffeIdProblem(base);
  }
  if (pattern.includes('*')) return 'a wildcard may only be a trailing /*';
  return spiffeIdProblem(pattern);
}

// Parsers for the small value languages shared by the injector's config file
// and its pod annotations: port lists, CIDR lists, quantities, booleans. Each
// returns the parsed value or a `problem` string naming what was expected.
import { parseCidr } from '../../proxy/src/config/index.js';
import { patternProblem } from '../../proxy/src/identity/spiffe-id.js';
import { pinProblem } from '../../proxy/src/identity/pin.js';

export type Parsed<T> = { ok: true; value: T } | { ok: false; problem: string };

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const bad = <T>(problem: string): Parsed<T> => ({ ok: false, problem });

/** Comma-separated items, blanks ignored: `8080, 9090` -> ['8080', '9090']. */
export function splitList(text: string): string[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

export function parsePort(text: string): number | undefined {
  if (!/^\d{1,5}$/.test(text)) return undefined;
  const n = Number(text);
  return n >= 1 && n <= 65535 ? n : undefined;
}

export function parsePortList(text: string): Parsed<number[]> {
  const out: number[] = [];
  for (const item of splitList(text)) {
    const p = parsePort(item);
    if (p === undefined) return bad(`expected comma-separated ports 1-65535, got ${JSON.stringify(item)}`);
    if (!out.includes(p)) out.push(p);
  }
  return ok(out);
}

/** `all` or a port list. */
export function parseInboundPorts(text: string): Parsed<'all' | number[]> {
  if (text.trim() === 'all' || text.trim() === '*') return ok('all');
  const r = parsePortList(text);
  if (!r.ok) return bad(`expected all or comma-separated ports, got ${JSON.stringify(text)}`);
  return r.value.length ? r : bad('expected all or at least one port');
}

export function parseCidrList(text: string): Parsed<string[]> {
  const out: string[] = [];
  for (const item of splitList(text)) {
    if (!parseCidr(item)) return bad(`expected comma-separated CIDRs like 10.0.0.0/8, got ${JSON.stringify(item)}`);
    if (!out.includes(item)) out.push(item);
  }
  return ok(out);
}

export function parseBool(text: string): Parsed<boolean> {
  if (text === 'true') return ok(true);
  if (text === 'false') return ok(false);
  return bad(`expected "true" or "false", got ${JSON.stringify(text)}`);
}

export function parseEnum<T extends string>(values: readonly T[]) {
  return (text: string): Parsed<T> =>
    (values as readonly string[]).includes(text) ? ok(text as T) : bad(`expected one of ${values.join(', ')}, got ${JSON.stringify(text)}`);
}

/** A Kubernetes resource quantity (`100m`, `64Mi`, `1.5`, `1e3`). */
const QUANTITY = /^[+]?(\d+(\.\d*)?|\.\d+)([KMGTPE]i|[numkMGTPE]|[eE][+-]?\d+)?$/;

export function quantityProblem(text: string): string | undefined {
  return QUANTITY.test(text) ? undefined : `expected a Kubernetes quantity like 100m or 64Mi, got ${JSON.stringify(text)}`;
}

export function parseQuantity(text: string): Parsed<string> {
  const p = quantityProblem(text);
  return p ? bad(p) : ok(text);
}

export function parseIdPatterns(text: string): Parsed<string[]> {
  const items = splitList(text);
  for (const item of items) {
    const p = patternProblem(item);
    if (p) return bad(`${JSON.stringify(item)} is not a SPIFFE ID or ID/* pattern: ${p}`);
  }
  return items.length ? ok(items) : bad('expected at least one SPIFFE ID');
}

export function parsePins(text: string): Parsed<string[]> {
  const items = splitList(text);
  for (const item of items) {
    const p = pinProblem(item);
    if (p) return bad(`${JSON.stringify(item)}: ${p}`);
  }
  return items.length ? ok(items) : bad('expected at least one pin');
}

/** A container image reference: no spaces, not empty. (The registry decides the rest.) */
export function parseImage(text: string): Parsed<string> {
  return /^[^\s]+$/.test(text) ? ok(text) : bad(`expected an image reference, got ${JSON.stringify(text)}`);
}

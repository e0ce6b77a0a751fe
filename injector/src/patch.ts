// RFC 6902 JSON Patch as the difference between the original and the injected
// object. Because the patch is derived from the one injection function, the
// webhook and `tlsmesh inject` cannot disagree; an empty diff is an empty patch.
// Arrays are aligned with a longest common subsequence, so inserting the init
// step in front of the user's init containers is two `add`s, not a rewrite, and
// an element changed in place (a container whose probes moved) is patched inside.
import type { Json } from './k8s.js';

export type Operation =
  | { op: 'add'; path: string; value: Json }
  | { op: 'remove'; path: string }
  | { op: 'replace'; path: string; value: Json };

/** RFC 6901: `~` -> `~0`, `/` -> `~1` (annotation keys hold slashes). */
export function pointerToken(key: string | number): string {
  const k = String(key);
  return k.includes('~') || k.includes('/') ? k.replace(/~/g, '~0').replace(/\//g, '~1') : k;
}

export function parsePointer(pointer: string): string[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
}

export function createPatch(original: unknown, injected: unknown): Operation[] {
  const ops: Operation[] = [];
  diff(original as Json, injected as Json, '', ops);
  return ops;
}

function diff(a: Json, b: Json, path: string, ops: Operation[]): void {
  // Injection shares unchanged subtrees with its input: identity is the fast path.
  if (a === b) return;
  if (Array.isArray(a) && Array.isArray(b)) return diffArray(a, b, path, ops);
  if (isPlain(a) && isPlain(b)) return diffObject(a, b, path, ops);
  if (!deepEqual(a, b)) ops.push({ op: 'replace', path, value: b });
}

function diffObject(a: { [k: string]: Json }, b: { [k: string]: Json }, path: string, ops: Operation[]): void {
  for (const k of Object.keys(a)) if (!(k in b)) ops.push({ op: 'remove', path: `${path}/${pointerToken(k)}` });
  for (const [k, v] of Object.entries(b)) {
    const p = `${path}/${pointerToken(k)}`;
    if (!(k in a)) ops.push({ op: 'add', path: p, value: v });
    else diff(a[k]!, v, p, ops);
  }
}

/**
 * Walk both arrays along their LCS. Between two matched elements, pair the
 * leftovers one to one and patch inside each pair; extra old elements are
 * removed, extra new ones added. `k` is the index in the array as patched so far.
 */
function diffArray(a: Json[], b: Json[], path: string, ops: Operation[]): void {
  if (a.length === b.length && a.every((x, i) => x === b[i])) return;
  const matches = lcs(a, b);
  let i = 0;
  let j = 0;
  let k = 0;
  for (const [mi, mj] of [...matches, [a.length, b.length] as const]) {
    const dels = mi - i;
    const adds = mj - j;
    const paired = Math.min(dels, adds);
    for (let n = 0; n < paired; n++) diff(a[i++]!, b[j++]!, `${path}/${k++}`, ops);
    for (let n = paired; n < dels; n++, i++) ops.push({ op: 'remove', path: `${path}/${k}` });
    for (let n = paired; n < adds; n++) ops.push({ op: 'add', path: `${path}/${k++}`, value: b[j++]! });
    if (mi < a.length) {
      i++;
      j++;
      k++;
    }
  }
}

/** Index pairs of a longest common subsequence (deep equality), in order. */
function lcs(a: Json[], b: Json[]): [number, number][] {
  const n = a.length;
  const m = b.length;
  const eq = a.map((x) => b.map((y) => deepEqual(x, y)));
  const len: number[][] = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      len[i]![j] = eq[i]![j] ? len[i + 1]![j + 1]! + 1 : Math.max(len[i + 1]![j]!, len[i]![j + 1]!);
    }
  }
  const out: [number, number][] = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (eq[i]![j]) out.push([i++, j++]);
    else if (len[i + 1]![j]! >= len[i]![j + 1]!) i++;
    else j++;
  }
  return out;
}

function isPlain(v: Json): v is { [k: string]: Json } {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((x, i) => deepEqual(x, bb[i]));
  }
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const ak = Object.keys(ao);
  if (ak.length !== Object.keys(bo).length) return false;
  return ak.every((k) => Object.prototype.hasOwnProperty.call(bo, k) && deepEqual(ao[k], bo[k]));
}

// The access line, one per request on each proxy: the same bytes that
// `log.info({ event: 'request', direction, listener, peer, method, path, code,
// durationMs })` writes, built without pino's generic path (an arguments array,
// the hook, a for-in over a fresh object with a check per key). The part that
// never changes for a listener is built once; the variable strings are escaped
// the way pino escapes them; the line goes through the logger's own destination,
// so it keeps its place among the other lines, and the level, bindings and the
// silence after EPIPE (log.ts) are the logger's, read at each call.
//
// Only for a logger whose output this reproduces (createLogger's: no mixin, log
// formatter, redaction, nested key, stream hook or metadata stream); any other
// falls back to log.info. A logMethod hook is not called for this line (ours
// acts only on warnings).
import pino from 'pino';
import type { Logger } from '../log.js';
import type { Direction } from '../metrics.js';

const S = pino.symbols;
/** Longer request targets are cut here and marked with `...`. */
export const PATH_MAX = 256;

export type AccessLine = (peer: string | undefined, method: string | undefined, target: string | undefined, code: number, durationMs: number) => void;

interface Internals {
  [S.lsCacheSym]: Record<number, string>;
  [S.timeSym]: () => string;
  [S.chindingsSym]: string;
  [S.endSym]: string;
  [S.streamSym]: { write(s: string): unknown; [S.needsMetadataGsym]?: boolean };
  [S.mixinSym]?: unknown;
  [S.nestedKeySym]?: unknown;
  [S.stringifiersSym]: object;
  [S.serializersSym]: Record<string, unknown>;
  [S.formattersSym]: { log?: unknown };
  [S.hooksSym]: { streamWrite?: unknown };
}

const KEYS = ['event', 'direction', 'listener', 'peer', 'method', 'path', 'code', 'durationMs'];

export function pathOf(target: string | undefined): string | undefined {
  return target && target.length > PATH_MAX ? `${target.slice(0, PATH_MAX)}...` : target;
}

export function accessLine(log: Logger, direction: Direction, listener: string): AccessLine {
  if (!reproducible(log)) {
    return (peer, method, target, code, durationMs) => {
      if (log.isLevelEnabled('info')) log.info({ event: 'request', direction, listener, peer, method, path: pathOf(target), code, durationMs });
    };
  }
  const l = log as unknown as Internals;
  const head = `,"event":"request","direction":${jsonString(direction)},"listener":${jsonString(listener)}`;
  return (peer, method, target, code, durationMs) => {
    if (!log.isLevelEnabled('info')) return;
    let s = l[S.lsCacheSym][log.levels.values.info] + l[S.timeSym]() + l[S.chindingsSym] + head;
    if (peer !== undefined) s += `,"peer":${jsonString(peer)}`;
    if (method !== undefined) s += `,"method":${jsonString(method)}`;
    const path = pathOf(target);
    if (path !== undefined) s += `,"path":${jsonString(path)}`;
    l[S.streamSym].write(`${s},"code":${jsonNumber(code)},"durationMs":${jsonNumber(durationMs)}${l[S.endSym]}`);
  };
}

function reproducible(log: Logger): boolean {
  const l = log as unknown as Internals;
  const stream = l[S.streamSym];
  return (
    !!stream &&
    typeof stream.write === 'function' &&
    stream[S.needsMetadataGsym] !== true &&
    !l[S.mixinSym] &&
    !l[S.nestedKeySym] &&
    !l[S.formattersSym]?.log &&
    !l[S.hooksSym]?.streamWrite &&
    Object.keys(l[S.stringifiersSym] ?? {}).length === 0 &&
    KEYS.every((k) => !l[S.serializersSym]?.[k]) &&
    typeof l[S.timeSym] === 'function' &&
    typeof l[S.lsCacheSym]?.[log.levels.values.info] === 'string'
  );
}

const NODE_MAJOR = Number(process.versions.node.split('.')[0]);
const PLAIN = /^[^\x00-\x1f"\\]*$/;
const CONTROL = /[\x00-\x1f]/;

/**
 * A string as pino writes it: JSON.stringify, except (before Node 25) that a
 * string of at most 100 characters without control characters has only `"`
 * and `\` escaped, so a lone surrogate in it passes as it is.
 */
export function jsonString(s: string): string {
  if (NODE_MAJOR >= 25 || s.length > 100) return JSON.stringify(s);
  if (PLAIN.test(s)) return `"${s}"`;
  return CONTROL.test(s) ? JSON.stringify(s) : `"${s.replace(/["\\]/g, '\\$&')}"`;
}

function jsonNumber(n: number): string {
  return Number.isFinite(n) ? String(n) : 'null';
}

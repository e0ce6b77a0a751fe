// One way to load a YAML config: read, parse, validate against a zod schema,
// freeze. Every problem names its field; all of them are reported on one line.
import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { ConfigError } from '../errors.js';

export function readConfigText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : code === 'EACCES' ? 'permission denied' : String(code ?? err);
    throw new ConfigError('', `cannot read ${file}: ${why}`, { cause: err });
  }
}

export function parseYaml(text: string): unknown {
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  const first = doc.errors[0];
  if (first) {
    const line = first.linePos?.[0]?.line;
    const what = (first.message.split('\n')[0] ?? 'invalid YAML').replace(/ at line \d+, column \d+:?$/, '');
    throw new ConfigError('', `invalid YAML${line ? ` at line ${line}` : ''}: ${what}`);
  }
  return doc.toJS();
}

export function loadConfig<S extends z.ZodType>(file: string, schema: S): DeepReadonly<z.output<S>> {
  return parseConfig(parseYaml(readConfigText(file)), schema);
}

export function parseConfig<S extends z.ZodType>(input: unknown, schema: S): DeepReadonly<z.output<S>> {
  if (input === null || input === undefined) throw new ConfigError('', 'the file is empty');
  if (typeof input !== 'object' || Array.isArray(input)) throw new ConfigError('', 'expected a mapping at the top level');
  // A configuration is parsed once: zod's compiled fast path (new Function per
  // object schema, which no code cache keeps) would cost more than it saves.
  const result = schema.safeParse(input, { jitless: true });
  if (!result.success) throw issuesToError(result.error.issues);
  return deepFreeze(result.data) as DeepReadonly<z.output<S>>;
}

interface Issue {
  code: string;
  path: PropertyKey[];
  message: string;
  expected?: string;
  values?: unknown[];
  keys?: string[];
  input?: unknown;
}

export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out === '' ? String(p) : `.${String(p)}`;
  }
  return out;
}

function describe(issue: Issue): { field: string; why: string } {
  const field = formatPath(issue.path);
  switch (issue.code) {
    case 'unrecognized_keys': {
      const key = issue.keys?.[0] ?? '?';
      return { field: field ? `${field}.${key}` : key, why: 'unknown field' };
    }
    case 'invalid_type':
      if (issue.message.endsWith('received undefined')) return { field, why: `required (${issue.expected})` };
      return { field, why: `expected ${issue.expected}` };
    case 'invalid_value':
      return { field, why: `expected one of ${(issue.values ?? []).map((v) => String(v)).join(', ')}` };
    case 'invalid_union':
      return { field, why: issue.message.startsWith('Invalid input') ? 'invalid value' : issue.message };
    default:
      return { field, why: issue.message.replace(/^Invalid input: /, '') };
  }
}

function issuesToError(issues: readonly Issue[]): ConfigError {
  const described = issues.map(describe);
  const first = described[0] ?? { field: '', why: 'invalid' };
  const rest = described.slice(1).map((d) => d.field || '(top)');
  const more = rest.length ? ` (and ${rest.length} more: ${rest.join(', ')})` : '';
  return new ConfigError(first.field, `${first.why}${more}`);
}

export type DeepReadonly<T> = T extends (infer U)[]
  ? readonly DeepReadonly<U>[]
  : T extends Function
    ? T
    : T extends object
      ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
      : T;

export function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

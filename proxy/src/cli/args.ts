// Flag parsing shared by every command: node:util parseArgs in strict mode, with
// its errors turned into one-line UsageErrors that name the flag.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from '../errors.js';

type Options = NonNullable<ParseArgsConfig['options']>;

export interface Parsed<O extends Options> {
  values: { [K in keyof O]?: O[K]['multiple'] extends true ? string[] : O[K]['type'] extends 'boolean' ? boolean : string };
  positionals: string[];
}

export function parseFlags<O extends Options>(command: string, args: string[], options: O, allowPositionals = false): Parsed<O> {
  try {
    const { values, positionals } = parseArgs({ args, options, allowPositionals, strict: true });
    return { values: values as Parsed<O>['values'], positionals };
  } catch (err) {
    throw new UsageError(`${command}: ${describeParseError(err)}`, { cause: err });
  }
}

function describeParseError(err: unknown): string {
  const e = err as { code?: string; message?: string };
  const msg = e.message ?? String(err);
  const quoted = /'([^']+)'/.exec(msg)?.[1];
  switch (e.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown flag: ${quoted ?? msg}`;
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `unexpected argument: ${quoted ?? msg}`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE': {
      const flag = /(--[\w-]+)/.exec(msg)?.[1];
      return flag ? `${flag}: ${msg.includes('argument missing') ? 'expected a value' : 'invalid value'}` : msg.split('\n')[0];
    }
    default:
      return msg.split('\n')[0] ?? msg;
  }
}

/** A required flag: throws a UsageError naming it when absent or empty. */
export function required(command: string, flag: string, value: string | undefined): string {
  if (value === undefined || value === '') throw new UsageError(`${command}: --${flag}: required`);
  return value;
}

/** `30s`, `10m`, `1h`, `2d` or a bare number of seconds -> milliseconds. */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(text.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  const scale = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[unit] ?? 1000;
  const ms = n * scale;
  return ms > 0 ? Math.round(ms) : undefined;
}

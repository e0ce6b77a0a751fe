// `tlsmesh demo` flags -> frozen options, and the pure choices that follow
// from them (certificate lifetimes, how often an attacker tries).
import { UsageError } from '../errors.js';
import { parseDuration, parseFlags } from '../cli/args.js';
import { PORT_NAMES } from './topology.js';

export const USAGE = `usage: tlsmesh demo [--duration SECONDS] [--plain] [--base-port PORT] [--ttl DURATION] [--keep]

A local mesh on 127.0.0.1: a frontend and a backend app, each with its own
tlsmesh sidecar, real mTLS between them, certificates rotating every few
seconds, and an attacker knocking. Runs until Ctrl-C.

  --duration SECONDS  stop by itself after this long, print a summary, and exit
                      0 only if no legitimate request failed and every attack
                      was refused with the expected reason (so it is a test too)
  --plain             periodic plain lines instead of the live view (the
                      default when stdout is not a terminal)
  --base-port PORT    listen on PORT..PORT+${PORT_NAMES.length - 1} (default: free ports)
  --ttl DURATION      certificate lifetime, e.g. 30s (default 30s, shorter for a
                      short --duration so that every identity rotates at least twice)
  --keep              keep the work directory at the end (configs, the CA, the
                      Secret directories as kubelet lays them out, logs/)
`;

export interface DemoOptions {
  durationMs: number | undefined;
  plain: boolean;
  basePort: number | undefined;
  /** Lifetime of each workload's certificates. */
  ttlMs: { frontend: number; backend: number };
  /** How often the attacker tries something. */
  attackEveryMs: number;
  keep: boolean;
  help: boolean;
}

const DEFAULT_TTL_MS = 30_000;
const MIN_TTL_MS = 6_000;

/**
 * The frontend's lifetime; the backend's is 4/5 of it so the two rotate at
 * different moments. With a short --duration D the lifetime is D/2: renewal at
 * 2/3 of it puts two rotations inside D for each identity.
 */
export function lifetimes(durationMs: number | undefined, ttlMs: number | undefined): { frontend: number; backend: number } {
  const base = ttlMs ?? (durationMs === undefined ? DEFAULT_TTL_MS : Math.min(DEFAULT_TTL_MS, Math.max(MIN_TTL_MS, durationMs / 2)));
  return { frontend: Math.round(base), backend: Math.round(base * 0.8) };
}

/** One attacker try every 3 s, or more often in a short run so that each kind is tried at least once. */
export function attackInterval(durationMs: number | undefined): number {
  if (durationMs === undefined) return 3000;
  return Math.max(1000, Math.min(3000, Math.floor(durationMs / 6)));
}

export function parseDemoOptions(args: string[], isTty: boolean): DemoOptions {
  const { values } = parseFlags('demo', args, {
    duration: { type: 'string' },
    plain: { type: 'boolean' },
    'base-port': { type: 'string' },
    ttl: { type: 'string' },
    keep: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  let durationMs: number | undefined;
  if (values.duration !== undefined) {
    durationMs = parseDuration(values.duration);
    if (durationMs === undefined) throw new UsageError(`demo: --duration: expected a number of seconds (got ${values.duration})`);
  }
  let ttlMs: number | undefined;
  if (values.ttl !== undefined) {
    ttlMs = parseDuration(values.ttl);
    if (ttlMs === undefined || ttlMs < 3000) throw new UsageError(`demo: --ttl: expected a duration of at least 3s, like 30s (got ${values.ttl})`);
  }
  let basePort: number | undefined;
  if (values['base-port'] !== undefined) {
    const n = Number(values['base-port']);
    const last = 65535 - (PORT_NAMES.length - 1);
    if (!/^\d+$/.test(values['base-port']) || n < 1 || n > last) {
      throw new UsageError(`demo: --base-port: expected a port from 1 to ${last} (got ${values['base-port']})`);
    }
    basePort = n;
  }
  return Object.freeze({
    durationMs,
    plain: values.plain === true || !isTty,
    basePort,
    ttlMs: lifetimes(durationMs, ttlMs),
    attackEveryMs: attackInterval(durationMs),
    keep: values.keep === true,
    help: values.help === true,
  });
}

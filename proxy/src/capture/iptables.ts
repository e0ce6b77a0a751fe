// The shell around iptables-save / iptables-restore for one backend and family.
// Debian ships two backends behind the same rule language: iptables-nft (the
// kernel's nf_tables) and iptables-legacy (x_tables). Rules written with one are
// invisible to the other's save, and both sets apply, so tlsmesh writes to the one
// the namespace already uses (see chooseBackend).
import { childProcess } from '../lazy-builtins.js';
import { CaptureError } from '../errors.js';
import type { Family } from './rules.js';

export type Backend = 'nft' | 'legacy';
export const BACKENDS: readonly Backend[] = ['nft', 'legacy'];

/** Where the binaries are looked for after $PATH (init containers often have a bare PATH). */
const SBIN = ['/usr/sbin', '/sbin', '/usr/local/sbin'];

export function binary(backend: Backend, family: Family, tool: 'save' | 'restore'): string {
  return `${family === 4 ? 'iptables' : 'ip6tables'}-${backend}-${tool}`;
}

export interface Tables {
  backend: Backend;
  family: Family;
  /** iptables-save output (all tables, or just one). */
  save(table?: string): Promise<string>;
  /** Feed iptables-restore --noflush: one atomic commit. */
  restore(script: string): Promise<void>;
}

export function tables(backend: Backend, family: Family): Tables {
  return {
    backend,
    family,
    save: (table) => run(binary(backend, family, 'save'), table ? ['-t', table] : []),
    restore: async (script) => {
      await run(binary(backend, family, 'restore'), ['--noflush', '--wait', '10'], script);
    },
  };
}

function run(file: string, args: string[], input?: string): Promise<string> {
  const env = { ...process.env, PATH: [process.env.PATH, ...SBIN].filter(Boolean).join(':') };
  return new Promise((resolve, reject) => {
    const child = childProcess().execFile(file, args, { env, timeout: 30_000, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      if (!err) return resolve(stdout);
      const code = (err as NodeJS.ErrnoException).code;
      const why =
        code === 'ENOENT'
          ? 'not found (install the iptables package, or pick the other backend with --iptables)'
          : stderr.split('\n').find((l) => l.trim() !== '')?.trim() ?? err.message;
      reject(new CaptureError(`${file}: ${why}`, { cause: err }));
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

/** How many rules a backend holds in this namespace, and whether some are tlsmesh's. */
export interface BackendUse {
  backend: Backend;
  available: boolean;
  rules: number;
  ours: boolean;
}

export async function backendUse(backend: Backend): Promise<BackendUse> {
  const results = await Promise.allSettled([tables(backend, 4).save(), tables(backend, 6).save()]);
  const texts = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const lines = texts.flatMap((t) => t.split('\n'));
  return {
    backend,
    available: results[0].status === 'fulfilled',
    rules: lines.filter((l) => l.startsWith('-A ')).length,
    ours: lines.some((l) => /^:TLSMESH_|-j TLSMESH_/.test(l)),
  };
}

/**
 * The backend to write with: the one already holding tlsmesh's rules (a re-run),
 * else the one holding more rules (whatever else manages this namespace), else
 * nft, the kernel's native interface, when it works, else legacy.
 */
export function chooseBackend(uses: readonly BackendUse[]): Backend | undefined {
  const usable = uses.filter((u) => u.available);
  const ours = usable.find((u) => u.ours);
  if (ours) return ours.backend;
  const busiest = [...usable].sort((a, b) => b.rules - a.rules)[0];
  if (busiest && busiest.rules > 0) return busiest.backend;
  return usable.find((u) => u.backend === 'nft')?.backend ?? usable[0]?.backend;
}

// Finds and loads the SO_ORIGINAL_DST addon (native/original_dst.c) on first use,
// so a proxy that never uses `original` never touches it. The outcome, loaded or
// the reason it could not be, is computed once and kept.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, parse } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface OriginalDstAddon {
  /** Throws an Error with a numeric `errno` when getsockopt fails. */
  originalDst(fd: number): { family: 4 | 6; address: string; port: number };
}

export const ADDON_FILE = join('build', 'Release', 'tlsmesh_original_dst.node');
const BUILD_HINT = 'build it with `npm run build:addon` (needs g++, make, python3 and Node\'s headers), or reinstall without --ignore-scripts';

export type AddonState = { addon: OriginalDstAddon; problem?: undefined } | { addon?: undefined; problem: string };

let state: AddonState | undefined;

export function loadAddon(): AddonState {
  state ??= tryLoad(process.env.TLSMESH_ADDON);
  return state;
}

/** Where the addon is looked for: $TLSMESH_ADDON, else build/Release in this package. */
export function addonCandidates(fromDir: string): string[] {
  const found: string[] = [];
  for (let dir = fromDir; ; dir = dirname(dir)) {
    found.push(join(dir, ADDON_FILE));
    if (existsSync(join(dir, 'package.json')) || dir === parse(dir).root) return found;
  }
}

function tryLoad(explicit: string | undefined): AddonState {
  if (process.platform !== 'linux') {
    return { problem: `SO_ORIGINAL_DST needs Linux (this is ${process.platform})` };
  }
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = explicit ? [explicit] : addonCandidates(here);
  const file = candidates.find((c) => existsSync(c));
  if (!file) {
    return { problem: `the SO_ORIGINAL_DST addon is not built (no ${candidates.at(-1)}): ${BUILD_HINT}` };
  }
  try {
    const addon = createRequire(import.meta.url)(file) as OriginalDstAddon;
    if (typeof addon.originalDst !== 'function') throw new Error('it exports no originalDst function');
    return { addon };
  } catch (err) {
    const why = err instanceof Error ? err.message.split('\n')[0] : String(err);
    return { problem: `the SO_ORIGINAL_DST addon ${file} does not load (${why}): ${BUILD_HINT}` };
  }
}

/** Tests only: forget the cached outcome. */
export function resetAddonForTests(): void {
  state = undefined;
}

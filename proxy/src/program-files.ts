// This program's own files, found at run time. It runs in one of two layouts:
//   the bundle, what `tlsmesh` is (package.json bin): dist/bundle/*.mjs and
//     the program itself, tlsmesh-main.cjs, in one flat folder (rolldown.config.mjs);
//   tsc's output, which some tests and benches import: dist/proxy/src/**/*.js.
// A path relative to the calling module differs between the two, so callers
// name a file for each layout here instead.
import { existsSync } from 'node:fs';
import { dirname, join, parse } from 'node:path';
import { fileURLToPath } from 'node:url';

/** True in the bundle: this module was bundled into a file ending in `.mjs` or `.cjs` (tsc writes `.js`). */
const BUNDLED = /\.[mc]js$/.test(import.meta.url);

/**
 * A file of the program: `bundled` is an entry's file name in dist/bundle/
 * (rolldown.config.mjs), `tsc` a path relative to proxy/src/ in tsc's output.
 */
export function programFile(tsc: string, bundled: string): string {
  return fileURLToPath(new URL(BUNDLED ? `./${bundled}` : `./${tsc}`, import.meta.url));
}

/** The package root: the nearest folder up from the code with a package.json. */
export function packageRoot(): string | undefined {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dir === parse(dir).root) return undefined;
  }
}

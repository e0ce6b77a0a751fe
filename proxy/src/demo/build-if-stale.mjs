// `npm run demo` runs this first: build only when a source is newer than the
// last build. `npm ci` has just built everything (prepare), so a newcomer's
// `npm ci && npm run demo` goes straight to the demo instead of type-checking
// the whole project a second time. Plain JavaScript: it runs before any build.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const SOURCES = ['proxy/src', 'injector/src'];
const CONFIG = ['tsconfig.json', 'rolldown.config.mjs', 'package.json', 'package-lock.json'];
// The last thing `npm run build` writes: the bundle (package.json bin).
const BUILT = 'dist/bundle/tlsmesh.mjs';

function newest(path) {
  let st;
  try {
    st = statSync(path);
  } catch {
    return 0;
  }
  if (!st.isDirectory()) return /\.test\.ts$/.test(path) ? 0 : st.mtimeMs;
  let max = 0;
  for (const entry of readdirSync(path)) max = Math.max(max, newest(join(path, entry)));
  return max;
}

/** True when there is no build, or a source or the build's config changed after it. */
export function isStale(root) {
  let built;
  try {
    built = statSync(join(root, BUILT)).mtimeMs;
  } catch {
    return true;
  }
  return Math.max(...SOURCES.map((d) => newest(join(root, d))), ...CONFIG.map((f) => newest(join(root, f)))) > built;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = resolve(fileURLToPath(new URL('../../..', import.meta.url)));
  if (isStale(root)) {
    process.stderr.write('tlsmesh demo: sources changed since the last build: building first (npm run build)…\n');
    const r = spawnSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: 'inherit' });
    process.exit(r.status ?? 1);
  }
}

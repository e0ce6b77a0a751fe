#!/usr/bin/env node
// Builds the SO_ORIGINAL_DST addon with npm's bundled node-gyp, against the
// headers of the running Node when they are installed next to it (Debian's
// /usr/include/node, the official tarballs' include/node), so nothing is
// downloaded. Run by `npm install`/`npm ci` (the "install" script) and by
// `npm run build:addon`. TLSMESH_SKIP_ADDON=1 skips it (then `original` in the
// proxy config reports the addon as missing); off Linux there is nothing to build.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

if (process.env.TLSMESH_SKIP_ADDON === '1') {
  console.warn('tlsmesh: TLSMESH_SKIP_ADDON=1: not building the SO_ORIGINAL_DST addon');
  process.exit(0);
}
if (process.platform !== 'linux') {
  console.warn(`tlsmesh: SO_ORIGINAL_DST is Linux-only; not building the addon on ${process.platform}`);
  process.exit(0);
}

/** npm's own node-gyp: npm names it in the environment of lifecycle scripts. */
function nodeGyp() {
  const candidates = [
    process.env.npm_config_node_gyp,
    join(dirname(process.execPath), '../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js'),
  ];
  return candidates.find((p) => p && p.endsWith('.js') && existsSync(p));
}

/** The directory holding include/node for this very Node version, if installed. */
function nodeDir() {
  if (process.env.npm_config_nodedir) return process.env.npm_config_nodedir;
  const prefix = resolve(dirname(process.execPath), '..');
  return existsSync(join(prefix, 'include/node/node_api.h')) && existsSync(join(prefix, 'include/node/common.gypi'))
    ? prefix
    : undefined;
}

const gyp = nodeGyp();
if (!gyp) {
  console.error('tlsmesh: cannot find node-gyp (npm bundles it); run this through npm: npm run build:addon');
  process.exit(1);
}
const dir = nodeDir();
const args = [gyp, 'rebuild', ...(dir ? [`--nodedir=${dir}`] : [])];
if (!dir) console.warn("tlsmesh: Node's headers are not installed next to node; node-gyp may download them");
const run = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
if (run.status !== 0) {
  console.error(
    'tlsmesh: building the SO_ORIGINAL_DST addon failed (needs g++, make, python3 and Node\'s headers);\n' +
      '  fix that and run `npm run build:addon`, or set TLSMESH_SKIP_ADDON=1 to install without it',
  );
  process.exit(run.status ?? 1);
}

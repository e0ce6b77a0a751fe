// The shipped `tlsmesh` (package.json bin) and the demo's helper processes, in
// one flat folder, dist/bundle/:
//   tlsmesh-main.cjs  the whole program (proxy/src/main.ts and every command),
//                     one CommonJS file, so that it can start from V8's code
//                     cache (proxy/src/code-cache.ts; docs/benchmarks.md, "Sidecar startup");
//   tlsmesh.mjs       the launcher that runs it (proxy/src/launcher.ts);
//   backend-app.mjs, frontend-app.mjs, orphan-guard.mjs: run by the demo as
//                     processes of their own, ES modules with their chunks.
// Bundling at all is for start-up: one file instead of ~400 (zod, @peculiar/*,
// prom-client, pino, chokidar, yaml). `npm run build` runs tsc first: the types
// are checked there, not here.
//
// Every file ends in .mjs or .cjs and sits in the one folder:
// proxy/src/program-files.ts relies on both to find the demo's scripts and the
// CLI itself. The native addon (build/Release/*.node) and the packages the code
// loads on first use with createRequire (acme-client, http-proxy) stay outside
// and load from node_modules; so does @kubernetes/client-node (only `tlsmesh
// controller` loads it, with require()): bundled, its node-fetch would require
// Node's core `punycode` from outside node_modules, which Node >= 21 answers
// with a DEP0040 warning on stderr.
import { rmSync } from 'node:fs';
import { defineConfig } from 'rolldown';

const OUT = 'dist/bundle';
// Both builds write into OUT, so neither may clean it: start from an empty
// folder here (this also drops code caches of earlier builds).
rmSync(OUT, { recursive: true, force: true });

const external = [/^node:/, '@kubernetes/client-node'];
// V8 keeps the program's source for the life of the process, at two bytes per
// character if the file holds one character beyond Latin-1 (a dash or an
// ellipsis in a comment is enough): escape what is in strings and leave out doc
// comments. The code stays as readable as before.
const ascii = { charset: 'ascii', comments: { legal: true, annotation: true, jsdoc: false } };

// The file is the function Node's CommonJS loader would wrap it in, so that
// vm.Script compiles the file's string as read (proxy/src/code-cache.ts): a
// wrapper added at run time would be a second copy of 1.7 MB. (Added after
// rolldown's last pass: output.banner/footer and renderChunk are followed by
// a pass that drops a function expression nobody calls.)
const inCommonJsWrapper = {
  name: 'tlsmesh-commonjs-wrapper',
  generateBundle(_options, bundle) {
    for (const chunk of Object.values(bundle)) {
      if (chunk.type === 'chunk') chunk.code = `(function (exports, require, module, __filename, __dirname) {\n${chunk.code}\n})\n`;
    }
  },
};

// @peculiar/*'s CommonJS files require('tslib'), which resolves to tslib's
// ES module build (its "module" condition): every one of the 134 requires then
// became a fresh copy of its ~40 exports (__toCommonJS), 4 to 8 ms of every
// start. Its CommonJS build is one module, evaluated once.
const tslibAsCommonJs = {
  name: 'tlsmesh-tslib-commonjs',
  async resolveId(source, importer, options) {
    if (source !== 'tslib') return null;
    const r = await this.resolve(source, importer, { ...options, skipSelf: true });
    return r ? { ...r, id: r.id.replace(/tslib\.es6\.m?js$/, 'tslib.js') } : null;
  },
};

export default defineConfig([
  {
    input: { 'tlsmesh-main': 'proxy/src/main.ts' },
    platform: 'node',
    external,
    plugins: [tslibAsCommonJs, inCommonJsWrapper],
    output: {
      dir: OUT,
      format: 'cjs',
      entryFileNames: '[name].cjs',
      codeSplitting: false,
      ...ascii,
    },
  },
  {
    input: {
      tlsmesh: 'proxy/src/launcher.ts',
      'backend-app': 'proxy/src/demo/backend-app.ts',
      'frontend-app': 'proxy/src/demo/frontend-app.ts',
      'orphan-guard': 'proxy/src/demo/orphan-guard.ts',
    },
    platform: 'node',
    external,
    output: { dir: OUT, format: 'esm', entryFileNames: '[name].mjs', chunkFileNames: '[name]-[hash].mjs', ...ascii },
  },
]);

// The shipped `tlsmesh` (package.json bin): one ES module per entry plus shared
// chunks in dist/bundle/, so that starting a command loads a handful of files
// instead of ~400 (zod, @peculiar/*, prom-client, pino, chokidar, yaml), which
// was most of the sidecar's startup time (docs/benchmarks.md, "Sidecar startup").
// `npm run build` runs tsc first: the types are checked there, not here.
//
// The layout is flat (entries and chunks side by side) and every file ends in
// .mjs: proxy/src/program-files.ts relies on both to find the demo's scripts
// and the CLI itself. The native addon (build/Release/*.node) and the
// packages the code loads on first use with createRequire (acme-client,
// http-proxy) stay outside and load from node_modules, as before; so does
// @kubernetes/client-node (only `tlsmesh controller` loads it): bundled, its
// node-fetch would require Node's core `punycode` from outside node_modules,
// which Node >= 21 answers with a DEP0040 warning on stderr.
import { defineConfig } from 'rolldown';

export default defineConfig({
  input: {
    tlsmesh: 'proxy/src/main.ts',
    // Run by the demo as processes of their own (proxy/src/demo/launch.ts, children.ts).
    'backend-app': 'proxy/src/demo/backend-app.ts',
    'frontend-app': 'proxy/src/demo/frontend-app.ts',
    'orphan-guard': 'proxy/src/demo/orphan-guard.ts',
  },
  platform: 'node',
  external: [/^node:/, '@kubernetes/client-node'],
  output: {
    dir: 'dist/bundle',
    format: 'esm',
    entryFileNames: '[name].mjs',
    chunkFileNames: '[name]-[hash].mjs',
    cleanDir: true,
    // V8 keeps each loaded module's source for the life of the process, at two
    // bytes per character if the file holds one character beyond Latin-1 (a
    // dash or an ellipsis in a comment is enough): escape what is in strings
    // and leave out doc comments, about 0.9 MiB of every sidecar's heap. The
    // code stays as readable as before.
    charset: 'ascii',
    comments: { legal: true, annotation: true, jsdoc: false },
  },
});

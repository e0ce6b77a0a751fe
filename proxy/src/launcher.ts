#!/usr/bin/env node
// `tlsmesh` as shipped (package.json bin, dist/bundle/tlsmesh.mjs): runs the
// program (main.ts, bundled into one CommonJS file) from V8's code cache; see
// code-cache.ts. The sidecar (`tlsmesh proxy`) writes the cache when there is
// none: its start-up is the one every pod waits for.
import { fileURLToPath } from 'node:url';
import { runCached } from './code-cache.js';

const result = runCached(fileURLToPath(new URL('./tlsmesh-main.cjs', import.meta.url)), { writeAfterMs: process.argv[2] === 'proxy' ? 2000 : undefined });
// For tests and benches: whether this start compiled from the cache.
if (process.env.TLSMESH_CODE_CACHE_REPORT) process.stderr.write(`tlsmesh: code cache ${result}\n`);

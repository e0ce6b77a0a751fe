// Start-up without compiling: V8's code cache for the program. Most of a
// sidecar's start was V8 compiling the bundle's functions (zod, @peculiar/x509
// and its ASN.1 schemas, prom-client, pino) before the first listener was up.
// Node 20 keeps no compiled code between runs for ES modules
// (module.enableCompileCache is Node 22), but vm.Script takes the bytecode V8
// produced in an earlier run (`cachedData`) for a CommonJS-style function. So
// the program is one CommonJS file (rolldown.config.mjs), run here through
// vm.Script, with the cache beside it:
//   dist/bundle/tlsmesh-main.cjs.<sha256 of the file and the Node version, 16 hex>.v8cache
// The hash in the name keeps a cache from ever meeting a different build or
// another Node (so another V8). V8 itself refuses a cache made under other
// V8 flags (NODE_OPTIONS=--max-semi-space-size=1, say): that start compiles
// as usual and leaves the cache alone, so starts with and without a flag do
// not overwrite each other's. Node's own options (--import, --require) are
// not V8 flags: the demo's processes, started with --import, make the cache
// a plain `tlsmesh proxy` uses, which is how the image gets its cache at
// build time (Dockerfile). A run that found no cache writes one
// (`writeAfterMs` after start, once start-up has compiled what it needs),
// atomically; where the folder is read-only nothing is written and start-up
// simply compiles, as before.
import { createHash } from 'node:crypto';
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import vm from 'node:vm';

export type CodeCacheResult = 'used' | 'rejected' | 'absent';

export interface RunCachedOptions {
  /** Write a cache this long after start when there was none (undefined: never write). */
  writeAfterMs?: number;
}

type ModuleFunction = (exports: object, require: NodeJS.Require, module: { exports: object }, filename: string, dirname: string) => void;

/** Which V8 made a cache: the Node version and the architecture. */
export function runtimeKey(): string {
  return `${process.version} ${process.arch}`;
}

/** The cache file for `file` with this content, on this runtime. */
export function cacheFileOf(file: string, source: Buffer, runtime = runtimeKey()): string {
  return `${file}.${createHash('sha256').update(source).update('\0').update(runtime).digest('hex').slice(0, 16)}.v8cache`;
}

/**
 * Runs `file`, an ASCII file holding one function expression
 * `(function (exports, require, module, __filename, __dirname) { ... })` (a
 * CommonJS module in the wrapper Node's loader would put around it), as Node
 * would require it: compiled from its code cache when there is a usable one.
 */
export function runCached(file: string, o: RunCachedOptions = {}): CodeCacheResult {
  const bytes = readFileSync(file);
  const cacheFile = cacheFileOf(file, bytes);
  let cachedData: Buffer | undefined;
  try {
    cachedData = readFileSync(cacheFile);
  } catch {
    // none yet
  }
  // utf8, not latin1: the bundle is ASCII (rolldown.config.mjs), so either gives the one-byte string V8 keeps,
  // but Node makes a latin1 string this large an external one (off V8's heap), and with the program's source
  // off the heap V8 ran a full mark-compact every ~100 ms of a bulk transfer (docs/benchmarks.md, "Sidecar
  // startup"): its heuristics for the read buffers' external memory depend on the size of the old generation.
  const source = bytes.toString('utf8');
  // No importModuleDynamically: import() inside the program is unavailable (Node 20 offers it here only as
  // an experimental loader, which fails with a code cache); packages outside the bundle load with createRequire.
  const script = new vm.Script(source, { filename: file, cachedData });
  const result: CodeCacheResult = cachedData === undefined ? 'absent' : script.cachedDataRejected ? 'rejected' : 'used';
  if (result === 'absent' && o.writeAfterMs !== undefined) setTimeout(() => writeCache(script, cacheFile), o.writeAfterMs).unref();
  const module = { exports: {} };
  (script.runInThisContext() as ModuleFunction).call(module.exports, module.exports, createRequire(file), module, file, dirname(file));
  return result;
}

function writeCache(script: vm.Script, cacheFile: string): void {
  const tmp = `${cacheFile}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, script.createCachedData());
    renameSync(tmp, cacheFile);
  } catch {
    // A read-only folder (the image's, at run time) or a full disk: start-up compiles, as without a cache.
    rmSync(tmp, { force: true });
  }
}

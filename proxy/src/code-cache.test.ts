import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cacheFileOf, runCached, runtimeKey } from './code-cache.js';
import { ROOT, eventually } from '../../test/support/processes.js';

const dir = mkdtempSync(join(tmpdir(), 'tlsmesh-code-cache-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A CommonJS program in its wrapper (as rolldown writes tlsmesh-main.cjs) that reports what it saw to a global, the way the bundle's main does its work on load. */
function program(name: string, body: string): { file: string; source: Buffer } {
  const file = join(dir, name);
  const source = Buffer.from(
    `(function (exports, require, module, __filename, __dirname) {\n'use strict';\nconst path = require('node:path');\nglobalThis.__codeCacheTest = { file: __filename, dir: __dirname, base: path.basename(__filename), exportsIsModuleExports: exports === module.exports, value: ${body} };\n})`,
  );
  writeFileSync(file, source);
  return { file, source };
}
const seen = () => (globalThis as { __codeCacheTest?: Record<string, unknown> }).__codeCacheTest;

describe('runCached', () => {
  it('runs the file as Node would require it, then writes a cache that the next run uses', async () => {
    const { file, source } = program('main.cjs', '6 * 7');
    expect(runCached(file, { writeAfterMs: 0 })).toBe('absent');
    expect(seen()).toEqual({ file, dir, base: 'main.cjs', exportsIsModuleExports: true, value: 42 });
    const cache = cacheFileOf(file, source);
    await eventually(() => existsSync(cache), 'the cache file');
    expect(runCached(file)).toBe('used');
    expect(seen()?.value).toBe(42);
  });

  it('a changed file never meets the old cache', async () => {
    const first = program('changing.cjs', '1');
    runCached(first.file, { writeAfterMs: 0 });
    await eventually(() => existsSync(cacheFileOf(first.file, first.source)), 'the first cache');
    const second = program('changing.cjs', '2');
    expect(runCached(second.file)).toBe('absent');
    expect(seen()?.value).toBe(2);
  });

  it('each Node version has a cache of its own', () => {
    const { file, source } = program('runtimes.cjs', '3');
    const here = cacheFileOf(file, source);
    expect(cacheFileOf(file, source, runtimeKey())).toBe(here);
    expect(cacheFileOf(file, source, runtimeKey().replace(process.version, 'v99.0.0'))).not.toBe(here);
  });

  it('writes nothing unless asked (writeAfterMs)', async () => {
    const quiet = program('quiet.cjs', '"quiet"');
    expect(runCached(quiet.file)).toBe('absent');
    // A writer started after it, on the same timer queue: once its cache is there, the quiet one's would be too.
    const loud = program('loud.cjs', '"loud"');
    runCached(loud.file, { writeAfterMs: 0 });
    await eventually(() => existsSync(cacheFileOf(loud.file, loud.source)), 'the writer\'s cache');
    expect(existsSync(cacheFileOf(quiet.file, quiet.source))).toBe(false);
  });

  it('a cache V8 refuses (another V8 flag, or broken) leaves the file compiling as usual, and is not overwritten', async () => {
    const { file, source } = program('broken.cjs', '"still runs"');
    writeFileSync(cacheFileOf(file, source), Buffer.from('not a code cache'));
    expect(runCached(file, { writeAfterMs: 0 })).toBe('rejected');
    expect(seen()?.value).toBe('still runs');
    // A writer started after it, on the same timer queue: once its cache is there, an overwrite would have happened.
    const later = program('after-broken.cjs', '"later"');
    runCached(later.file, { writeAfterMs: 0 });
    await eventually(() => existsSync(cacheFileOf(later.file, later.source)), 'the later cache');
    expect(readFileSync(cacheFileOf(file, source), 'utf8')).toBe('not a code cache');
  });

  it('keeps the program\'s source on V8\'s heap, not in an external string (which cost bulk transfers a mark-compact every 100 ms)', () => {
    const big = join(dir, 'big.cjs');
    writeFileSync(big, `(function (exports, require, module, __filename, __dirname) {\n/*${'x'.repeat(4 << 20)}*/\nglobalThis.__big = 1;\n})\n`);
    // External memory after a full GC, in a process of its own: around runCached, and, to show the measure
    // sees an external string, around reading the same file as latin1 (what the first launcher did).
    const script = `
      const { readFileSync } = require('node:fs');
      const external = () => { gc(); gc(); return process.memoryUsage().external; };
      import(${JSON.stringify(join(ROOT, 'dist/proxy/src/code-cache.js'))}).then(({ runCached }) => {
        let before = external();
        runCached(${JSON.stringify(big)});
        const program = external() - before;
        before = external();
        const latin1 = readFileSync(${JSON.stringify(big)}).toString('latin1');
        console.log(JSON.stringify({ program, latin1: external() - before, kept: latin1.length }));
      });`;
    const got = JSON.parse(execFileSync(process.execPath, ['--expose-gc', '-e', script], { encoding: 'utf8' })) as { program: number; latin1: number };
    expect(got.latin1).toBeGreaterThanOrEqual(4 << 20);
    expect(got.program).toBeLessThan(1 << 20);
  });
});

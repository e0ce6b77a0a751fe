import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
// @ts-expect-error plain JavaScript (it runs before any build)
import { isStale } from './build-if-stale.mjs';

const root = mkdtempSync(join(tmpdir(), 'tlsmesh-stale-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function file(path: string, mtimeSeconds: number): void {
  const p = join(root, path);
  mkdirSync(dirname(p), { recursive: true });
  writeFileSync(p, '');
  utimesSync(p, mtimeSeconds, mtimeSeconds);
}

describe('build-if-stale', () => {
  it('stale without a build, fresh after it, stale again when a source (not a test) changes', () => {
    file('proxy/src/main.ts', 1000);
    file('tsconfig.json', 1000);
    expect(isStale(root)).toBe(true);
    file('dist/bundle/tlsmesh.mjs', 2000);
    expect(isStale(root)).toBe(false);
    file('proxy/src/demo/view.test.ts', 3000);
    expect(isStale(root)).toBe(false);
    file('injector/src/x/y.ts', 3000);
    expect(isStale(root)).toBe(true);
    file('dist/bundle/tlsmesh.mjs', 4000);
    file('package-lock.json', 5000);
    expect(isStale(root)).toBe(true);
    file('dist/bundle/tlsmesh.mjs', 6000);
    file('rolldown.config.mjs', 7000);
    expect(isStale(root)).toBe(true);
  });
});

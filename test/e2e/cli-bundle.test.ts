// The shipped binary is the bundle `npm run build` writes (package.json bin),
// and it runs from the runtime image's layout: package.json, node_modules and
// dist/bundle only, without tsc's dist/proxy beside it.
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../support/pki.js';
import { CLI, ROOT } from '../support/processes.js';

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string; bin: { tlsmesh: string } };
const tmp = tempDir();
afterAll(() => tmp.cleanup());

function node(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, args, (err, stdout, stderr) => resolve({ code: err ? Number(err.code) : 0, stdout, stderr }));
  });
}

describe('the tlsmesh bundle', () => {
  it('is the bin, with its entries side by side: the CLI and the scripts the demo starts', () => {
    expect(CLI).toBe(join(ROOT, pkg.bin.tlsmesh));
    for (const entry of ['tlsmesh.mjs', 'backend-app.mjs', 'frontend-app.mjs', 'orphan-guard.mjs']) {
      expect(existsSync(join(ROOT, 'dist/bundle', entry)), `dist/bundle/${entry} (run \`npm run build\` first)`).toBe(true);
    }
  });

  it('runs alone as in the image: --version from package.json, bad config as one line and exit 2', async () => {
    const image = join(tmp.dir, 'opt-tlsmesh');
    mkdirSync(join(image, 'dist'), { recursive: true });
    cpSync(join(ROOT, 'package.json'), join(image, 'package.json'));
    cpSync(join(ROOT, 'dist/bundle'), join(image, 'dist/bundle'), { recursive: true });
    symlinkSync(join(ROOT, 'node_modules'), join(image, 'node_modules'));
    const bin = join(image, pkg.bin.tlsmesh);

    expect(await node([bin, '--version'])).toEqual({ code: 0, stdout: `tlsmesh ${pkg.version}\n`, stderr: '' });
    const bad = join(tmp.dir, 'bad.yaml');
    writeFileSync(bad, 'trustDomain: cluster.local\nidentity:\n  dir: /nonexistent\ndrainSeconds: soon\n');
    expect(await node([bin, 'proxy', '--config', bad])).toEqual({ code: 2, stdout: '', stderr: 'config: drainSeconds: expected number\n' });
  });
});

// The shipped binary is the bundle `npm run build` writes (package.json bin),
// and it runs from the runtime image's layout: package.json, node_modules and
// dist/bundle only, without tsc's dist/proxy beside it.
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ca, identity, tempDir, writePlainSecret } from '../support/pki.js';
import { httpGet } from '../support/mesh.js';
import { CLI, ROOT, eventually, freePorts, startProcess } from '../support/processes.js';

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
    for (const entry of ['tlsmesh.mjs', 'tlsmesh-main.cjs', 'backend-app.mjs', 'frontend-app.mjs', 'orphan-guard.mjs']) {
      expect(existsSync(join(ROOT, 'dist/bundle', entry)), `dist/bundle/${entry} (run \`npm run build\` first)`).toBe(true);
    }
    // The program runs through vm.Script (code-cache.ts), where import() has no loader: packages load with createRequire.
    expect(readFileSync(join(ROOT, 'dist/bundle/tlsmesh-main.cjs'), 'latin1')).not.toMatch(/\bimport\(\s*["'`]/);
  });

  // Everything the bundle requires at its top runs at every start
  // (docs/benchmarks.md, "Sidecar startup"): built-ins only some listeners or
  // commands need load on first use (lazy-builtins.ts), and tslib is its
  // CommonJS build, one module, not a copy of its ES module's exports per
  // require (rolldown.config.mjs).
  it('loads at start neither the built-ins a plain sidecar does not use nor a copy of tslib per require', () => {
    const code = readFileSync(join(ROOT, 'dist/bundle/tlsmesh-main.cjs'), 'latin1');
    for (const builtin of ['http2', 'child_process', 'readline']) expect(code, builtin).not.toMatch(new RegExp(`^let \\w+ = require\\("node:${builtin}"\\);$`, 'm'));
    expect(code).toMatch(/^let node_tls = require\("node:tls"\);$/m); // the pattern above does match a top-level require
    expect(code).not.toMatch(/__toCommonJS\(tslib/);
    expect(code).toMatch(/\/\/ node_modules\/tslib\/tslib\.js\n/);
  });

  // The sidecar reads certificates with @peculiar/x509's ASN.1 layer; the rest
  // of @peculiar/x509 (and the reflect-metadata polyfill it needs, which sets
  // Reflect.getMetadata) is the certificate authority's, 20 to 30 ms of a start
  // (docs/benchmarks.md, "Sidecar startup").
  it('starts a sidecar with a valid identity without loading @peculiar/x509', async () => {
    const root = await ca({ name: 'bundle root', trustDomain: 'cluster.local' });
    const id = join(tmp.dir, 'identity');
    mkdirSync(id);
    writePlainSecret(id, (await identity(root, 'spiffe://cluster.local/ns/default/sa/app')).files);
    const [admin, inbound] = await freePorts(2);
    const config = join(tmp.dir, 'ready.yaml');
    writeFileSync(config, `trustDomain: cluster.local\nidentity:\n  dir: ${id}\nadmin:\n  listen: 127.0.0.1:${admin}\ninbound:\n  - listen: 127.0.0.1:${inbound}\n    forward: 127.0.0.1:9\n    protocol: http\n`);
    const probe = `data:text/javascript,${encodeURIComponent("process.on('exit', () => process.stderr.write('reflect-metadata ' + (typeof Reflect.getMetadata === 'function' ? 'loaded' : 'absent') + '\\n'))")}`;
    const p = startProcess(process.execPath, ['--import', probe, CLI, 'proxy', '--config', config]);
    await eventually(async () => (await httpGet(`http://127.0.0.1:${admin}/healthz/ready`).catch(() => ({ status: 0 }))).status === 200, 'the sidecar ready');
    const certs = JSON.parse((await httpGet(`http://127.0.0.1:${admin}/certs`)).body) as { spiffeId: string; issuer: string };
    expect(certs).toMatchObject({ spiffeId: 'spiffe://cluster.local/ns/default/sa/app', issuer: 'CN=bundle root, O=tlsmesh tests' });
    p.kill('SIGTERM');
    expect(await p.exited).toBe(0);
    expect(p.stderr()).toBe('reflect-metadata absent\n');
  });

  it('runs alone as in the image: --version from package.json, bad config as one line and exit 2', async () => {
    const image = join(tmp.dir, 'opt-tlsmesh');
    mkdirSync(join(image, 'dist'), { recursive: true });
    cpSync(join(ROOT, 'package.json'), join(image, 'package.json'));
    // Without the code caches other runs left beside the bundle: this copy starts from none.
    cpSync(join(ROOT, 'dist/bundle'), join(image, 'dist/bundle'), { recursive: true, filter: (f) => !f.endsWith('.v8cache') });
    symlinkSync(join(ROOT, 'node_modules'), join(image, 'node_modules'));
    const bin = join(image, pkg.bin.tlsmesh);

    expect(await node([bin, '--version'])).toEqual({ code: 0, stdout: `tlsmesh ${pkg.version}\n`, stderr: '' });
    const bad = join(tmp.dir, 'bad.yaml');
    writeFileSync(bad, 'trustDomain: cluster.local\nidentity:\n  dir: /nonexistent\ndrainSeconds: soon\n');
    expect(await node([bin, 'proxy', '--config', bad])).toEqual({ code: 2, stdout: '', stderr: 'config: drainSeconds: expected number\n' });

    // The sidecar leaves V8's code cache beside the program; the next start uses it (TLSMESH_CODE_CACHE_REPORT: a
    // line on stderr). The first start preloads a module with --import, as the demo's processes do (the image makes
    // its cache with the demo): a Node option, not a V8 flag, so the plain start after it uses that cache.
    const caches = () => readdirSync(join(image, 'dist/bundle')).filter((f) => f.endsWith('.v8cache'));
    expect(caches()).toEqual([]);
    const [admin] = await freePorts(1);
    const config = join(tmp.dir, 'idle.yaml');
    writeFileSync(config, `trustDomain: cluster.local\nidentity:\n  dir: ${join(tmp.dir, 'no-identity-yet')}\nadmin:\n  listen: 127.0.0.1:${admin}\n`);
    const env = { TLSMESH_CODE_CACHE_REPORT: '1' };
    const first = startProcess(process.execPath, ['--import', 'data:text/javascript,', bin, 'proxy', '--config', config], { env });
    await eventually(() => caches().length === 1, 'the code cache written by the first start');
    first.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    expect(first.stderr()).toBe('tlsmesh: code cache absent\n');
    const second = startProcess(process.execPath, [bin, 'proxy', '--config', config], { env });
    await eventually(async () => (await httpGet(`http://127.0.0.1:${admin}/healthz/live`).catch(() => ({ status: 0 }))).status === 200, 'the second start live');
    second.kill('SIGTERM');
    expect(await second.exited).toBe(0);
    expect(second.stderr()).toBe('tlsmesh: code cache used\n');
  });
});

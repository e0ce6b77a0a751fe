// The Dockerfile, checked without a Docker engine: its instructions parse; every
// COPY source exists in the build context (and is not ignored) or is made by
// the build stage; the build stage runs the commands CI runs and has the
// native-addon toolchain CI installs; the runtime runs as the sidecar's uid with
// `tlsmesh` as entrypoint, the bundle (package.json bin) as its target; and what
// runs imports only production dependencies.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../../injector/src/testing/process.js';
import { PROXY_GID, PROXY_UID } from '../../proxy/src/defaults.js';

interface Instruction {
  op: string;
  args: string;
}
interface Stage {
  from: string;
  name?: string;
  instructions: Instruction[];
}

function parseDockerfile(text: string): { args: Instruction[]; stages: Stage[] } {
  const logical = text.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const args: Instruction[] = [];
  const stages: Stage[] = [];
  for (const line of logical) {
    const m = /^([A-Za-z]+)\s+(.*)$/.exec(line);
    if (!m) throw new Error(`cannot parse: ${line}`);
    const ins = { op: m[1]!.toUpperCase(), args: m[2]!.replace(/\s+/g, ' ') };
    if (ins.op === 'FROM') {
      const f = /^(\S+)(?: AS (\S+))?$/i.exec(ins.args)!;
      stages.push({ from: f[1]!, name: f[2], instructions: [] });
    } else if (stages.length === 0) args.push(ins);
    else stages.at(-1)!.instructions.push(ins);
  }
  return { args, stages };
}

const dockerfile = parseDockerfile(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));
const [build, runtime] = [dockerfile.stages[0]!, dockerfile.stages.at(-1)!];
const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
const run = (s: Stage) => s.instructions.filter((i) => i.op === 'RUN').map((i) => i.args).join(' && ');
const copies = (s: Stage) => s.instructions.filter((i) => i.op === 'COPY').map((i) => {
  const from = /--from=(\S+)/.exec(i.args)?.[1];
  const parts = i.args.replace(/--\S+/g, '').trim().split(' ');
  return { from, sources: parts.slice(0, -1), dest: parts.at(-1)! };
});

/** Top-level names that .dockerignore keeps out of the build context. */
const isIgnored = (path: string) => ignored.some((p) => path === p || path.startsWith(`${p}/`));

describe('Dockerfile', () => {
  it('has a build stage and a runtime stage on the same Node LTS image, slim', () => {
    expect(dockerfile.stages.length).toBe(2);
    expect(build.name).toBe('build');
    const nodeArg = dockerfile.args.find((a) => a.op === 'ARG' && a.args.startsWith('NODE_VERSION='));
    const major = Number(nodeArg?.args.split('=')[1]);
    // An even major is an LTS line; no older than the engines field allows.
    expect(major % 2).toBe(0);
    expect(major).toBeGreaterThanOrEqual(20);
    expect(build.from).toBe('node:${NODE_VERSION}-bookworm-slim');
    expect(runtime.from).toBe(build.from);
  });

  it('the build stage runs what CI runs, with the toolchain for the native addon', () => {
    const ci = readFileSync(join(ROOT, '.ci/run'), 'utf8');
    const install = /^npm ci[^\n]*$/m.exec(ci)?.[0];
    expect(install).toBe('npm ci --no-audit --no-fund');
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string>; bin: Record<string, string>; dependencies: Record<string, string> };
    // `npm test` is the build and then the tests: the image runs the build part.
    expect(pkg.scripts.test).toMatch(/^npm run build && /);
    const commands = run(build);
    expect(commands).toContain(install);
    expect(commands).toContain('npm run build');
    expect(commands.indexOf(install!)).toBeLessThan(commands.indexOf('npm run build'));
    for (const tool of ['python3', 'make', 'g++']) {
      expect(ci, `.ci/run installs ${tool}`).toMatch(new RegExp(`\\[${tool.replace('+', '\\+')}\\]=`));
      expect(commands.split(' '), `the build stage installs ${tool}`).toContain(tool);
    }
  });

  it('every COPY source exists in the build context or is made by the build stage', () => {
    const made = ['/src/package.json', '/src/package-lock.json', '/src/node_modules', '/src/dist/bundle', '/src/build'];
    for (const c of [...copies(build), ...copies(runtime)]) {
      for (const src of c.sources) {
        if (c.from === 'build') {
          expect(made, `COPY --from=build ${src}`).toContain(src);
          if (src === '/src/build') expect(run(build)).toContain('mkdir -p build');
        } else if (src === '.') {
          // The whole context: what the build needs must be in it.
          for (const f of ['package.json', 'package-lock.json', 'tsconfig.json', 'rolldown.config.mjs', 'proxy', 'injector', ...(existsSync(join(ROOT, 'binding.gyp')) ? ['binding.gyp', 'native'] : [])]) {
            expect(existsSync(join(ROOT, f)), f).toBe(true);
            expect(isIgnored(f), `${f} is in .dockerignore`).toBe(false);
          }
        } else {
          expect(existsSync(join(ROOT, src)), src).toBe(true);
          expect(isIgnored(src), `${src} is in .dockerignore`).toBe(false);
        }
      }
    }
  });

  it('the entrypoint runs the package\'s bin: the bundle the build stage writes to dist/bundle/', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string> };
    expect(pkg.bin.tlsmesh).toMatch(/^dist\/bundle\/[^/]+\.mjs$/);
    expect(copies(runtime)).toContainEqual({ from: 'build', sources: ['/src/dist/bundle'], dest: './dist/bundle' });
    expect(run(runtime)).toContain(`ln -s /opt/tlsmesh/${pkg.bin.tlsmesh} /usr/local/bin/tlsmesh`);
    expect(readFileSync(join(ROOT, 'proxy/src/launcher.ts'), 'utf8')).toMatch(/^#!\/usr\/bin\/env node\n/);
    expect(existsSync(join(ROOT, pkg.bin.tlsmesh)), 'run `npm run build` first').toBe(true);
    expect(readFileSync(join(ROOT, pkg.bin.tlsmesh), 'utf8')).toMatch(/^#!\/usr\/bin\/env node\n/);
  });

  it('runs as the sidecar uid, never root, with tlsmesh as entrypoint; iptables is there for the init step', () => {
    const users = runtime.instructions.filter((i) => i.op === 'USER').map((i) => i.args);
    expect(users).toEqual([`${PROXY_UID}:${PROXY_GID}`]);
    expect(runtime.instructions.at(-2)).toEqual({ op: 'ENTRYPOINT', args: '["tlsmesh"]' });
    expect(run(runtime).split(' ')).toContain('iptables');
    expect(run(runtime)).not.toMatch(/\b(python3|g\+\+|make)\b/);
  });

  it('.dockerignore keeps local builds and the repository out of the context', () => {
    for (const p of ['node_modules', 'dist', 'build', '.git']) expect(ignored).toContain(p);
  });

  it('the code the image runs imports only production dependencies', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    const bundle = join(ROOT, 'dist/bundle');
    expect(existsSync(bundle), 'run `npm run build` first').toBe(true);
    // What the bundle leaves to node_modules: static and dynamic imports, and
    // requires (rolldown's __require for bundled CommonJS, ours by createRequire).
    const loads = [/^(?:import\b[^'";]*?|export\b[^'";]*?\bfrom\s*)['"]([^'"]+)['"]/gm, /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g, /(?:\b__require|createRequire\(import\.meta\.url\))\(\s*['"]([^'"]+)['"]\s*\)/g];
    const missing = new Set<string>();
    const files = readdirSync(bundle).filter((f) => f.endsWith('.mjs'));
    expect(files).toContain('tlsmesh.mjs');
    for (const f of files) {
      const text = readFileSync(join(bundle, f), 'utf8');
      for (const spec of loads.flatMap((re) => [...text.matchAll(re)].map((m) => m[1]!))) {
        if (spec.startsWith('.') || isBuiltin(spec)) continue;
        const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
        if (!(name in pkg.dependencies)) missing.add(`${name} (${f})`);
      }
    }
    expect([...missing]).toEqual([]);
  });
});

// `tlsmesh inject` as users run it: files and stdin, its own output as input,
// and bad input answered with exit status 2 and exactly one line on stderr.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { MAIN, ROOT } from '../../injector/src/testing/process.js';

const tmp = mkdtempSync(join(tmpdir(), 'tlsmesh-inject-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const inject = (args: string[], input?: string) => {
  const r = spawnSync(process.execPath, [MAIN, 'inject', ...args], { input, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
};
const file = (name: string, text: string) => {
  const f = join(tmp, name);
  writeFileSync(f, text);
  return f;
};
const deployment = readFileSync(join(ROOT, 'injector/testdata/deployment.yaml'), 'utf8');

describe('tlsmesh inject', () => {
  it('injects a file and reports each pod template on stderr', () => {
    const r = inject(['-f', file('d.yaml', deployment)]);
    expect(r.code).toBe(0);
    expect(parse(r.stdout).spec.template.spec.initContainers.map((c: { name: string }) => c.name)).toEqual(['tlsmesh-init', 'tlsmesh-proxy']);
    expect(r.stderr).toBe('Deployment/web: injected\n');
  });

  it('reads stdin with -f -, and prints identical bytes when run on its own output', () => {
    const once = inject(['-f', '-'], deployment);
    expect(once.code).toBe(0);
    const twice = inject(['-f', '-', '--quiet'], once.stdout);
    expect(twice).toEqual({ code: 0, stdout: once.stdout, stderr: '' });
  });

  it('uses --config: the golden config gives the golden output', () => {
    const r = inject(['-f', join(ROOT, 'injector/testdata/deployment.yaml'), '--config', join(ROOT, 'injector/testdata/config.yaml'), '-q']);
    expect(r.stdout).toBe(readFileSync(join(ROOT, 'injector/testdata/deployment.golden.yaml'), 'utf8'));
  });

  it.each([
    ['no -f', [], 'inject: --filename: required'],
    ['an unknown flag', ['-f', '-', '--namespace', 'x'], 'inject: unknown flag: --namespace'],
    ['a missing file', ['-f', join(tmp, 'nope.yaml')], `inject: -f ${join(tmp, 'nope.yaml')}: no such file`],
    ['a missing config', ['-f', '-', '--config', join(tmp, 'nope.yaml')], `config: cannot read ${join(tmp, 'nope.yaml')}: no such file`],
    ['a bad config field', ['-f', '-', '--config', file('bad-config.yaml', 'sidecar:\n  mode: sidecar\n')], 'config: sidecar.mode: expected one of native, container'],
    ['invalid YAML', ['-f', file('bad.yaml', 'kind: Pod\nspec: [\n')], /^inject: .*bad\.yaml: invalid YAML at line \d+: .+$/],
    ['a bad annotation', ['-f', file('ann.yaml', 'kind: Pod\nmetadata:\n  name: p\n  annotations:\n    tlsmesh.io/exclude-inbound-ports: http\nspec:\n  containers: [{name: a}]\n')], /^inject: .*ann\.yaml: Pod\/p: tlsmesh\.io\/exclude-inbound-ports: expected comma-separated ports 1-65535, got "http"$/],
  ])('%s: exit 2 and one line', (_n, args, message) => {
    const r = inject(args as string[], '');
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    const lines = r.stderr.split('\n');
    expect(lines.length).toBe(2);
    if (typeof message === 'string') expect(lines[0]).toBe(message);
    else expect(lines[0]).toMatch(message);
  });
});

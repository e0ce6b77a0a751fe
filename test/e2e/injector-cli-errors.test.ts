// `tlsmesh injector` refuses bad input before serving: exit 2 and exactly one
// line on stderr naming the flag or the config field.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { issueLeaf, makeCa } from '../../injector/src/testing/pki.js';
import { MAIN } from '../../injector/src/testing/process.js';

const tmp = mkdtempSync(join(tmpdir(), 'tlsmesh-injector-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const ca = makeCa(join(tmp, 'ca'));
const [a, b] = [issueLeaf(ca, { sans: ['DNS:a'] }), issueLeaf(ca, { sans: ['DNS:b'] })];

const file = (name: string, text: string) => {
  const f = join(tmp, name);
  writeFileSync(f, text);
  return f;
};
const dir = (name: string, files: Record<string, string>) => {
  const d = mkdtempSync(join(tmp, `${name}-`));
  for (const [n, t] of Object.entries(files)) writeFileSync(join(d, n), t);
  return d;
};

describe('tlsmesh injector: bad input', () => {
  const mismatched = dir('mismatch', { 'tls.crt': a.certPem, 'tls.key': b.keyPem });
  const empty = dir('empty', {});
  it.each([
    ['no --config', [], 'injector: --config: required'],
    ['an unknown flag', ['--config', 'x', '--port', '1'], 'injector: unknown flag: --port'],
    ['a missing config file', ['--config', join(tmp, 'nope.yaml')], `config: cannot read ${join(tmp, 'nope.yaml')}: no such file`],
    ['no tls.dir', ['--config', file('no-tls.yaml', 'sidecar:\n  image: x\n')], 'config: tls.dir: required (the webhook serves HTTPS)'],
    ['an empty tls.dir', ['--config', file('empty.yaml', `tls:\n  dir: ${empty}\n`)], `config: tls.dir: ${empty} holds none of tls.crt, tls.key`],
    ['a key that does not match', ['--config', file('mismatch.yaml', `tls:\n  dir: ${mismatched}\n`)], `config: tls.dir: ${mismatched}/tls.key: does not match tls.crt`],
  ])('%s', (_n, args, line) => {
    const r = spawnSync(process.execPath, [MAIN, 'injector', ...args], { encoding: 'utf8', timeout: 20_000 });
    expect({ code: r.status, stderr: r.stderr, stdout: r.stdout }).toEqual({ code: 2, stderr: `${line}\n`, stdout: '' });
  });
});

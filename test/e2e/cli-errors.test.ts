// Bad input to any command: exit 2, exactly one line on stderr naming the flag
// or the config field, never a stack trace.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../support/pki.js';
import { runTlsmesh } from '../support/processes.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

function file(name: string, text: string): string {
  const f = join(tmp.dir, name);
  writeFileSync(f, text);
  return f;
}

const good = 'trustDomain: cluster.local\nidentity:\n  dir: /nonexistent\n';

describe('exit 2 with one line naming what is wrong', () => {
  it.each([
    ['no command', [], /^usage: tlsmesh/],
    ['an unknown command', ['frobnicate'], /^tlsmesh: unknown command: frobnicate/],
    ['an unknown flag', ['proxy', '--confg', 'x'], /^proxy: unknown flag: --confg$/],
    ['a missing --config', ['proxy'], /^proxy: --config: required \(or set TLSMESH_CONFIG\)$/],
    ['a missing config file', ['proxy', '--config', '/nonexistent/tlsmesh.yaml'], /^config: cannot read \/nonexistent\/tlsmesh.yaml: no such file$/],
    ['invalid YAML', ['proxy', '--config', file('bad.yaml', 'trustDomain: [\n')], /^config: invalid YAML at line \d+: /],
    ['a field of the wrong value', ['proxy', '--config', file('fwd.yaml', `${good}inbound:\n  - listen: 0.0.0.0:15006\n    forward: nowhere\n`)], /^config: inbound\[0\]\.forward: expected host:port or original$/],
    ['an unknown field', ['proxy', '--config', file('unk.yaml', `${good}inbound:\n  - listen: 0.0.0.0:15006\n    forward: 127.0.0.1:8080\n    colour: blue\n`)], /^config: inbound\[0\]\.colour: unknown field$/],
    ['a wrong type', ['proxy', '--config', file('type.yaml', `${good}drainSeconds: soon\n`)], /^config: drainSeconds: expected number$/],
    ['ca init without --dir', ['ca', 'init', '--trust-domain', 'td'], /^ca init: --dir: required$/],
    ['ca issue with a bad --ttl', ['ca', 'issue', '--ca', tmp.dir, '--spiffe-id', 'spiffe://td/ns/a/sa/b', '--out', tmp.dir, '--ttl', 'forever'], /^ca issue: --ttl: expected a duration/],
    ['ca issue with a bad --spiffe-id', ['ca', 'issue', '--ca', tmp.dir, '--spiffe-id', 'spiffe://TD/x', '--out', tmp.dir], /^ca issue: --spiffe-id: /],
    ['ca issue from a folder that is no CA', ['ca', 'issue', '--ca', tmp.dir, '--spiffe-id', 'spiffe://td/ns/a/sa/b', '--out', join(tmp.dir, 'o')], /^ca issue: --ca: .* is not a CA directory/],
    ['pin of a missing file', ['pin', '/nonexistent.pem'], /^pin: \/nonexistent.pem: no such file$/],
    ['pin of a file with no certificate', ['pin', file('nocert.pem', 'hello\n')], /^pin: .*nocert.pem: no PEM certificate$/],
    ['verify without --bundle', ['verify', 'x.pem'], /^verify: --bundle: required$/],
    ['verify with a bad --pin', ['verify', '--bundle', 'a', '--pin', 'md5/x', 'b'], /^verify: --pin: expected sha256\//],
  ])('%s', async (_name, args, line) => {
    const r = await runTlsmesh(args as string[]);
    expect(r.code).toBe(2);
    const lines = r.stderr.split('\n').filter(Boolean);
    if (args.length === 0) {
      expect(r.stdout).toMatch(line);
      return;
    }
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(line);
    expect(r.stderr).not.toMatch(/\bat .*\.js:\d+/);
  });

  it('TLSMESH_CONFIG names the file when --config is absent', async () => {
    const r = await runTlsmesh(['proxy'], { env: { TLSMESH_CONFIG: file('env.yaml', `${good}bogus: 1\n`) } });
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe('config: bogus: unknown field');
  });
});

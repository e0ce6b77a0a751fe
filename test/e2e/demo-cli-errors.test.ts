// `tlsmesh demo` bad input: exit 2 with one line naming the flag, before
// anything is started; a --base-port block with a port in use names the port
// and what it was for.
import { once } from 'node:events';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runTlsmesh } from '../support/processes.js';

const tmp = mkdtempSync(join(tmpdir(), 'tlsmesh-demo-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Seven consecutive free ports on 127.0.0.1 (the demo's block), found by binding them. */
async function freeBlock(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 40_000);
    const held: net.Server[] = [];
    try {
      for (let i = 0; i < 7; i++) {
        const s = net.createServer();
        s.listen(base + i, '127.0.0.1');
        await once(s, 'listening');
        held.push(s);
      }
      return base;
    } catch {
      // taken: try another block
    } finally {
      await Promise.all(held.map((s) => new Promise((r) => s.close(r))));
    }
  }
  throw new Error('no free block of 7 ports');
}

describe('tlsmesh demo: bad input', () => {
  it.each([
    ['an unknown flag', ['--colour'], 'demo: unknown flag: --colour'],
    ['a duration that is not one', ['--duration', 'soon'], 'demo: --duration: expected a number of seconds (got soon)'],
    ['a port out of range', ['--base-port', '65533'], 'demo: --base-port: expected a port from 1 to 65529 (got 65533)'],
    ['a lifetime too short to rotate', ['--ttl', '1s'], 'demo: --ttl: expected a duration of at least 3s, like 30s (got 1s)'],
  ])('%s: exit 2, one line', async (_what, args, line) => {
    const r = await runTlsmesh(['demo', ...args], { env: { TMPDIR: tmp } });
    expect({ code: r.code, stderr: r.stderr, stdout: r.stdout }).toEqual({ code: 2, stderr: `${line}\n`, stdout: '' });
  });

  it('a port of the --base-port block in use: exit 2, one line naming it, nothing started', async () => {
    const base = await freeBlock();
    const busy = net.createServer();
    busy.listen(base + 3, '127.0.0.1');
    await once(busy, 'listening');
    try {
      const r = await runTlsmesh(['demo', '--base-port', String(base), '--duration', '5'], { env: { TMPDIR: tmp } });
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toBe(
        `demo: --base-port: port ${base + 3} (frontend sidecar outbound) on 127.0.0.1 is already in use; the demo needs ${base}-${base + 6} free: choose another --base-port or leave it out to use free ports\n`,
      );
      expect(readdirSync(tmp)).toEqual([]);
    } finally {
      busy.close();
    }
  });

  it('--help: the usage, exit 0', async () => {
    const r = await runTlsmesh(['demo', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^usage: tlsmesh demo \[--duration SECONDS\]/);
  });
});

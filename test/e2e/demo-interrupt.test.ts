// Ending `tlsmesh demo` from outside: Ctrl-C (SIGINT) stops it in order with
// the summary and exit 0, and leaves no process and no work dir; even a
// SIGKILL, which no handler sees, leaves no process running (each child
// stops when the demo's end of its stdin closes).
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseSummary, processesOf, workDirOf } from '../support/demo.js';
import { eventually, killAll, tlsmesh, type Proc } from '../support/processes.js';

const tmp = mkdtempSync(join(tmpdir(), 'tlsmesh-demo-int-'));

afterAll(async () => {
  await killAll();
  rmSync(tmp, { recursive: true, force: true });
});

/** A demo running its mesh (traffic flowing, one attack made), with its work dir and six live children. */
async function running(): Promise<{ demo: Proc; dir: string }> {
  const demo = tlsmesh(['demo', '--plain'], { env: { TMPDIR: tmp } });
  await eventually(() => {
    if (demo.child.exitCode !== null) throw new Error(`demo exited: ${demo.stdout()} ${demo.stderr()}`);
    return demo.stdout().includes('attacker: ');
  }, 'the mesh up and a first attack', 60_000);
  const dir = workDirOf(demo.stdout())!;
  expect(dir.startsWith(`${tmp}/`), demo.stdout()).toBe(true);
  expect(processesOf(dir)).toHaveLength(6); // two apps, two sidecars, two renewers
  return { demo, dir };
}

describe('ending the demo', () => {
  it('Ctrl-C: summary, exit 0, no process and no work dir left', { timeout: 90_000 }, async () => {
    const { demo, dir } = await running();
    demo.kill('SIGINT');
    const code = await demo.exited;
    const out = demo.stdout();
    expect(code, `${out}\n${demo.stderr()}`).toBe(0);
    expect(out).toMatch(/tlsmesh demo summary: PASS, interrupted \(Ctrl-C\)/);
    expect(parseSummary(out)?.failed).toBe(0);
    expect(parseSummary(out)?.removed).toBe(true);
    expect(readdirSync(tmp)).not.toContain(dir.slice(tmp.length + 1));
    await eventually(() => processesOf(dir).length === 0, 'no child left', 5000);
  });

  it('SIGKILL: every child stops by itself', { timeout: 90_000 }, async () => {
    const { demo, dir } = await running();
    demo.kill('SIGKILL');
    await demo.exited;
    await eventually(() => processesOf(dir).length === 0, `every child of ${dir} gone (left: ${processesOf(dir).join(', ')})`, 15_000);
    // No handler runs on SIGKILL: the work dir is the one thing left, in the temp dir.
    rmSync(dir, { recursive: true, force: true });
  });
});

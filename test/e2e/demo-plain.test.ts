// `tlsmesh demo --duration 20 --plain`, as a newcomer (or CI) runs it: the
// real command as a real process. Every identity rotates at least twice, no
// legitimate request fails, every attacker try is refused with its reason as
// the sidecar counted it, the exit status says so, and nothing is left behind.
import { existsSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { attackLines, parseSummary, processesOf, workDirOf } from '../support/demo.js';
import { eventually, killAll, tlsmesh } from '../support/processes.js';

const EXPECTED: Record<string, { sidecar: string; direction: string }> = {
  untrusted: { sidecar: 'backend', direction: 'inbound' },
  identity_denied: { sidecar: 'backend', direction: 'inbound' },
  pin_mismatch: { sidecar: 'frontend', direction: 'outbound' },
  protocol: { sidecar: 'backend', direction: 'inbound' },
};

afterAll(killAll);

describe('tlsmesh demo --duration 20 --plain', () => {
  it('rotates, refuses every attack with its reason, fails no request, exits 0 and cleans up', { timeout: 150_000 }, async () => {
    const demo = tlsmesh(['demo', '--duration', '20', '--plain']);
    const code = await demo.exited;
    const out = demo.stdout();
    const context = `exit ${code}\n--- stdout\n${out}\n--- stderr\n${demo.stderr()}`;
    expect(code, context).toBe(0);
    expect(demo.stderr(), context).toBe('');

    const summary = parseSummary(out);
    expect(summary, context).toBeDefined();
    expect(summary!.pass, context).toBe(true);
    expect(summary!.failed, context).toBe(0);
    expect(summary!.ok, context).toBeGreaterThan(0);
    expect(summary!.rotations.frontend, context).toBeGreaterThanOrEqual(2);
    expect(summary!.rotations.backend, context).toBeGreaterThanOrEqual(2);

    // Every try was refused, and the line names what the sidecar counted.
    const tries = attackLines(out);
    expect(new Set(tries.map((t) => t.kind)), context).toEqual(new Set(Object.keys(EXPECTED)));
    for (const t of tries) {
      expect({ line: t.line, counted: t.counted, sidecar: t.sidecar, direction: t.direction }).toEqual({ line: t.line, counted: t.kind, ...EXPECTED[t.kind] });
    }
    expect(summary!.tries).toBe(tries.length);
    expect(summary!.refusedAsExpected).toBe(tries.length);
    for (const reason of Object.keys(EXPECTED)) expect(summary!.refused[reason], `${reason} in the summary`).toBeGreaterThanOrEqual(1);
    // Each rotation was seen in the sidecar itself (its /certs serial changed).
    expect(out).toMatch(/frontend sidecar rotated [0-9a-f]{8} -> [0-9a-f]{8}/);
    expect(out).toMatch(/backend sidecar rotated [0-9a-f]{8} -> [0-9a-f]{8}/);

    // Nothing left behind: the work dir is gone, and so is every process it started.
    const dir = workDirOf(out);
    expect(dir, context).toMatch(/tlsmesh-demo-/);
    expect(summary!.removed).toBe(true);
    expect(existsSync(dir!)).toBe(false);
    await eventually(() => processesOf(dir!).length === 0, `no process of ${dir} left (${processesOf(dir!).join(', ')})`, 5000);
  });
});

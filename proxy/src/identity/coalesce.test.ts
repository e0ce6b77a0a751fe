import { describe, expect, it } from 'vitest';
import { Coalescer } from './coalesce.js';

/** A job whose runs finish when the test says so. */
function gatedJob() {
  const gates: (() => void)[] = [];
  let runs = 0;
  const job = () =>
    new Promise<number>((resolve) => {
      const n = ++runs;
      gates.push(() => resolve(n));
    });
  return { job, gates, runs: () => runs };
}

describe('Coalescer', () => {
  it('runs once when nothing else asks', async () => {
    const g = gatedJob();
    const c = new Coalescer<number>();
    const p = c.run(g.job);
    g.gates.shift()!();
    expect(await p).toBe(1);
    expect(g.runs()).toBe(1);
  });

  it('folds any number of calls during a run into one more run, and all callers get its result', async () => {
    const g = gatedJob();
    const c = new Coalescer<number>();
    const first = c.run(g.job);
    const others = [c.run(g.job), c.run(g.job), c.run(g.job)];
    expect(others.every((p) => p === first)).toBe(true);
    g.gates.shift()!();
    await new Promise((r) => setImmediate(r));
    expect(g.runs()).toBe(2);
    g.gates.shift()!();
    expect(await first).toBe(2);
    expect(g.runs()).toBe(2);
  });

  it('starts afresh after a run settled, also after a failure', async () => {
    const c = new Coalescer<number>();
    await expect(c.run(() => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await c.run(() => Promise.resolve(7))).toBe(7);
  });
});

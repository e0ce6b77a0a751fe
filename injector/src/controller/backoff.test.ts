import { describe, expect, it } from 'vitest';
import { Backoffs, backoffDelay, type BackoffPolicy } from './backoff.js';
import { ManualClock, sleep } from './clock.js';

const P: BackoffPolicy = { initialMs: 500, maxMs: 60_000, jitter: 0.2 };

describe('backoffDelay', () => {
  it.each([
    [1, 0.5, 500],
    [2, 0.5, 1000],
    [3, 0.5, 2000],
    [8, 0.5, 60_000],
    [50, 0.5, 60_000],
    [1, 0, 400],
    [1, 0.999_999, 600],
    [20, 0.999_999, 60_000],
  ])('attempt %d, random %d -> %d ms', (attempt, random, ms) => {
    expect(backoffDelay(P, attempt, random)).toBe(ms);
  });
});

describe('Backoffs', () => {
  it('backs a key off exponentially, on its own, until it succeeds', () => {
    const b = new Backoffs(P, () => 0.5);
    expect(b.fail('a', 1000)).toBe(500);
    expect(b.fail('a', 1500)).toBe(1000);
    expect(b.waiting('a', 2499)).toBe(true);
    expect(b.waiting('a', 2500)).toBe(false);
    expect(b.waiting('b', 0)).toBe(false);
    expect(b.nextRetry()).toBe(2500);
    b.succeed('a');
    expect(b.nextRetry()).toBeUndefined();
    expect(b.fail('a', 0)).toBe(500);
  });

  it('forgets keys that need nothing any more', () => {
    const b = new Backoffs(P, () => 0.5);
    b.fail('a', 0);
    b.fail('b', 100);
    b.retain(new Set(['b']));
    expect(b.waiting('a', 1)).toBe(false);
    expect(b.nextRetry()).toBe(600);
  });
});

describe('ManualClock', () => {
  it('fires timers in order only when advanced, and cancels', async () => {
    const clock = new ManualClock(1000);
    const fired: string[] = [];
    clock.setTimer(20, () => fired.push('b'));
    clock.setTimer(10, () => fired.push('a'));
    const cancel = clock.setTimer(15, () => fired.push('never'));
    cancel();
    expect(clock.pending()).toEqual([10, 20]);
    clock.advance(9);
    expect(fired).toEqual([]);
    clock.advance(11);
    expect(fired).toEqual(['a', 'b']);
    expect(clock.now()).toBe(1020);
    const slept = sleep(clock, 5);
    clock.advance(5);
    await slept;
    const ac = new AbortController();
    const aborted = sleep(clock, 1_000_000, ac.signal);
    ac.abort();
    await aborted;
    expect(clock.pending()).toEqual([]);
  });
});

// Time is an input: the controller reads the time and waits only through a
// Clock, so tests drive backoff and resync by hand instead of sleeping.

export interface Clock {
  now(): number;
  /** Call `fn` after `ms` milliseconds; the returned function cancels it. */
  setTimer(ms: number, fn: () => void): () => void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(ms, fn) {
    const t = setTimeout(fn, ms);
    return () => clearTimeout(t);
  },
};

/** Resolves after `ms` on `clock`, or at once when `signal` aborts. */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const onAbort = () => {
      cancel();
      resolve();
    };
    const cancel = clock.setTimer(ms, () => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    });
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

interface Timer {
  due: number;
  seq: number;
  fn: () => void;
}

/** A clock that moves only when told to; for tests. */
export class ManualClock implements Clock {
  private t: number;
  private seq = 0;
  private timers: Timer[] = [];

  constructor(start = 0) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  setTimer(ms: number, fn: () => void): () => void {
    const timer = { due: this.t + Math.max(0, ms), seq: this.seq++, fn };
    this.timers.push(timer);
    return () => {
      this.timers = this.timers.filter((x) => x !== timer);
    };
  }

  /** Delays (from now) of the timers still pending, soonest first. */
  pending(): number[] {
    return this.timers.map((x) => x.due - this.t).sort((a, b) => a - b);
  }

  /** Move time forward, firing every timer that falls due, in order. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      const next = [...this.timers].sort((a, b) => a.due - b.due || a.seq - b.seq)[0];
      if (!next || next.due > end) break;
      this.timers = this.timers.filter((x) => x !== next);
      this.t = next.due;
      next.fn();
    }
    this.t = end;
  }
}

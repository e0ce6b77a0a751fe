// Exponential backoff with jitter, as a pure function of the attempt number and
// a random draw, plus the per-object bookkeeping the controller keeps.

export interface BackoffPolicy {
  initialMs: number;
  maxMs: number;
  /** 0.2 = each delay is drawn from [0.8, 1.2] x the nominal delay (then capped). */
  jitter: number;
}

/** The delay before retry number `attempt` (1 = the first retry); `random` in [0, 1). */
export function backoffDelay(policy: BackoffPolicy, attempt: number, random: number): number {
  const nominal = Math.min(policy.maxMs, policy.initialMs * 2 ** Math.max(0, attempt - 1));
  const jittered = nominal * (1 - policy.jitter + 2 * policy.jitter * random);
  return Math.max(1, Math.round(Math.min(policy.maxMs, jittered)));
}

/** Failures per key: when each may be tried again. */
export class Backoffs {
  private readonly failures = new Map<string, { attempts: number; notBefore: number }>();

  constructor(
    private readonly policy: BackoffPolicy,
    private readonly random: () => number,
  ) {}

  /** Record a failure at `now`; returns the delay before the next try. */
  fail(key: string, now: number): number {
    const attempts = (this.failures.get(key)?.attempts ?? 0) + 1;
    const delay = backoffDelay(this.policy, attempts, this.random());
    this.failures.set(key, { attempts, notBefore: now + delay });
    return delay;
  }

  succeed(key: string): void {
    this.failures.delete(key);
  }

  /** True when `key` is waiting out a backoff at `now`. */
  waiting(key: string, now: number): boolean {
    const f = this.failures.get(key);
    return f !== undefined && f.notBefore > now;
  }

  /** The earliest time a waiting key may be tried again, or undefined. */
  nextRetry(): number | undefined {
    let next: number | undefined;
    for (const f of this.failures.values()) if (next === undefined || f.notBefore < next) next = f.notBefore;
    return next;
  }

  /** Forget keys that no longer need any action. */
  retain(keys: Set<string>): void {
    for (const k of this.failures.keys()) if (!keys.has(k)) this.failures.delete(k);
  }
}

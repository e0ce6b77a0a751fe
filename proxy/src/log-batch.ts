// The logger's batching, in front of sonic-boom: lines are appended to one
// string and handed over 8 KiB at a time, 200 ms after the first one waits
// when traffic is light, and at once when asked (after a warning, at close, at
// exit). sonic-boom's own batching (minLength) measures the UTF-8 length of
// everything it holds on each write, a copy and a scan of up to 8 KiB per
// line; here that happens once per batch. Order is kept: every line of the
// logger goes through here.
import type pino from 'pino';

type SonicBoom = ReturnType<typeof pino.destination>;

const BATCH = 8192;
const PERIOD_MS = 200;

export class LogBatch {
  private pending = '';
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly onExit = () => {
    // What is still here at exit goes out synchronously, behind what sonic-boom holds.
    if (this.closed || !this.pending) return;
    try {
      this.dest.write(this.take());
      this.dest.flushSync();
    } catch {
      // the log is gone; nothing to do at exit
    }
  };

  /** `dest` must write what it is given without waiting for more (minLength 0). */
  constructor(readonly dest: SonicBoom) {
    process.on('exit', this.onExit);
  }

  /** pino's destination interface. */
  write(s: string): boolean {
    if (this.closed) return true;
    this.pending += s;
    if (this.pending.length >= BATCH) this.flush();
    // A timer only while lines wait: an idle process is not woken 5 times a second.
    else if (!this.timer) {
      this.timer = setTimeout(this.onTimer, PERIOD_MS);
      this.timer.unref();
    }
    return true;
  }

  private readonly onTimer = () => {
    this.timer = undefined;
    this.flush();
  };

  /** Hand what is gathered to sonic-boom now. */
  flush(): void {
    if (this.pending && !this.closed) this.dest.write(this.take());
  }

  /** No more writes reach sonic-boom (closing, or the log is gone); `keep` writes out what is gathered first. */
  close(keep: boolean): void {
    if (keep) this.flush();
    this.closed = true;
    this.pending = '';
    clearTimeout(this.timer);
    this.timer = undefined;
    process.off('exit', this.onExit);
  }

  private take(): string {
    const s = this.pending;
    this.pending = '';
    return s;
  }
}

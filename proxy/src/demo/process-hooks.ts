// The demo's hooks on its own process: signals ask for an orderly stop (a
// second one stops at once), a crash or any exit runs the synchronous
// cleanup, and a stdout whose reader went away (`tlsmesh demo | head`) stops
// the demo quietly. Installed for one run, removed after it.

export interface HookActions {
  /** An orderly stop, with the words the summary uses for it. */
  stop(how: string): void;
  /** True once a stop is under way. */
  stopping(): boolean;
  /** Synchronous last resort: kill the children, remove the work dir, restore the terminal. */
  cleanupNow(): void;
  /** Our stdout reader is gone: write nothing more. */
  outputGone(): void;
}

type Handler = (...args: unknown[]) => void;

export class ProcessHooks {
  private readonly onProcess: [string, Handler][] = [];
  private onOut: Handler | undefined;

  constructor(
    private readonly a: HookActions,
    private readonly out: NodeJS.WriteStream,
    private readonly err: NodeJS.WriteStream,
  ) {}

  install(): void {
    const onSignal: Handler = (signal) => {
      if (this.a.stopping()) return this.emergency(`${String(signal)} again: stopped at once`, 130);
      this.a.stop(signal === 'SIGINT' ? 'interrupted (Ctrl-C)' : `stopped by ${String(signal)}`);
    };
    const onCrash: Handler = (e) => {
      const detail = e instanceof Error ? (process.env.TLSMESH_DEBUG ? (e.stack ?? e.message) : e.message) : String(e);
      this.emergency(`tlsmesh: demo: internal error: ${detail}`, 1);
    };
    this.onOut = (e) => {
      if ((e as NodeJS.ErrnoException).code !== 'EPIPE') return onCrash(e);
      this.a.outputGone();
      this.a.stop('stdout closed');
    };
    this.out.on('error', this.onOut);
    this.onProcess.push(['SIGINT', onSignal], ['SIGTERM', onSignal], ['SIGHUP', onSignal], ['uncaughtException', onCrash], ['unhandledRejection', onCrash], ['exit', () => this.a.cleanupNow()]);
    for (const [event, fn] of this.onProcess) process.on(event as NodeJS.Signals, fn);
  }

  remove(): void {
    for (const [event, fn] of this.onProcess) process.off(event as NodeJS.Signals, fn);
    if (this.onOut) this.out.off('error', this.onOut);
  }

  private emergency(message: string, code: number): never {
    this.a.cleanupNow();
    this.err.write(`${message}\n`);
    process.exit(code);
  }
}

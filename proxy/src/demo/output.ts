// What `tlsmesh demo` shows while it runs: on a terminal the live view,
// redrawn in place each tick; otherwise (--plain, a pipe) one line per event
// and a status line every few seconds. Nothing more is written once stdout
// went away (`tlsmesh demo | head`).
import type { Style } from './ansi.js';
import { eventLine, statusLine } from './report.js';
import { LiveScreen } from './screen.js';
import type { DemoState } from './state.js';
import { frame, type ViewContext } from './view.js';

const STATUS_EVERY_MS = 5000;

export class DemoOutput {
  /** The live view (a terminal and no --plain). */
  readonly screen: LiveScreen | undefined;
  /** stdout went away: stop, quietly. */
  gone = false;
  private printedSeq = 0;
  private lastStatus = 0;

  constructor(
    private readonly s: DemoState,
    private readonly ctx: ViewContext,
    private readonly c: Style,
    private readonly out: NodeJS.WriteStream,
    live: boolean,
  ) {
    this.screen = live ? new LiveScreen(out) : undefined;
  }

  /** The live view redrawn, or the events and the status line not printed yet. */
  render(): void {
    if (this.screen) {
      this.screen.draw(frame(this.s, this.ctx, this.c, this.screen.columns, this.screen.rows));
      return;
    }
    this.flushEvents();
    if (this.s.upAt !== undefined && this.s.now - this.lastStatus >= STATUS_EVERY_MS) {
      this.lastStatus = this.s.now;
      this.print(statusLine(this.s));
    }
  }

  print(line: string): void {
    if (!this.gone) this.out.write(`${line}\n`);
  }

  /** Plain output: the events not printed yet. */
  flushEvents(): void {
    if (this.screen) return;
    for (const e of this.s.events) {
      if (e.seq <= this.printedSeq) continue;
      this.printedSeq = e.seq;
      this.print(eventLine(this.s, e, this.c));
    }
  }
}

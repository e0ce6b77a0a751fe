// Writes made until the end of this turn of the event loop leave together:
// the writable is corked at the first of them and uncorked in setImmediate,
// so a turn's pieces become one writev (one TLS record, one system call).
// Used where many small or frame-sized writes arrive within one turn: a
// multiplexed connection's frames (frames.ts), a stream's pieces into a
// socket (splice.ts), and a stream's response pieces to the client (h1/flow.ts).
import type { Writable } from 'node:stream';

export class TurnCork {
  private corked = false;

  constructor(private readonly w: Writable) {}

  /** Cork `w` until the end of this turn, unless that is done already. */
  hold(): void {
    if (this.corked) return;
    this.corked = true;
    this.w.cork();
    setImmediate(release, this);
  }

  /** Uncork now (setImmediate's callback). */
  release(): void {
    this.corked = false;
    this.w.uncork();
  }
}

function release(t: TurnCork): void {
  t.release();
}

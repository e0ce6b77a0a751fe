// Draw the live view in place on a terminal: the alternate screen (the
// user's scrollback stays as it was), cursor home, each line cleared to its
// end, everything below cleared, in one write. `leave` is safe to call twice
// and from a process 'exit' handler.
import { cursor } from './ansi.js';

export class LiveScreen {
  private active = false;
  private resized = false;
  private readonly onResize = () => (this.resized = true);

  constructor(private readonly out: NodeJS.WriteStream) {}

  get columns(): number {
    return this.out.columns || 100;
  }

  get rows(): number {
    return this.out.rows || 40;
  }

  enter(): void {
    if (this.active) return;
    this.active = true;
    this.out.write(cursor.altScreen + cursor.hide + cursor.clearScreen + cursor.home);
    this.out.on('resize', this.onResize);
  }

  draw(lines: string[]): void {
    if (!this.active) return;
    const clear = this.resized ? cursor.clearScreen : '';
    this.resized = false;
    this.out.write(clear + cursor.home + lines.map((l) => l + cursor.clearLine).join('\n') + cursor.clearBelow);
  }

  leave(): void {
    if (!this.active) return;
    this.active = false;
    this.out.off('resize', this.onResize);
    this.out.write(cursor.show + cursor.mainScreen);
  }
}

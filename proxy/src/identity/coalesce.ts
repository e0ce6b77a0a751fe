// One reload at a time, for everything that re-reads credentials from disk
// (the identity store, offload certificate sources, the injector's serving
// certificate): a call while a read runs does not start another; it asks for
// exactly one more read after the current one and gets the promise of that
// same run, which settles after the extra read. Watcher hints and SIGHUP that
// arrive in a burst thus cost at most two reads, and the last one sees the
// files as they ended up.
export class Coalescer<T> {
  private running: Promise<T> | undefined;
  private again = false;

  /** Run `job` (the first caller's job serves the whole run, extra read included). */
  run(job: () => Promise<T>): Promise<T> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    const loop = async (): Promise<T> => {
      let result: T;
      do {
        this.again = false;
        result = await job();
      } while (this.again);
      return result;
    };
    this.running = loop().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }
}

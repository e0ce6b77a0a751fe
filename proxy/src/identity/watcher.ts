// Watch the Secret directory (not the files: kubelet renames `..data`), treat
// every event as a hint, debounce, and poll as a backstop (Istio's watcher,
// cert-manager's file_source). The reader compares bytes, so spurious hints
// cost one small read.
import { dirname } from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import type { Logger } from '../log.js';

export interface WatchOptions {
  /** Directories and files to watch; for files their directory is watched. */
  dirs: readonly string[];
  files: readonly string[];
  /** Called (debounced) when something may have changed. */
  onHint: (why: string) => void;
  debounceMs?: number;
  /** Backstop poll; 0 = none. */
  pollMs: number;
  /** Faster poll while `fast()` is true (e.g. no identity loaded yet). */
  fast?: () => boolean;
  fastPollMs?: number;
  log: Logger;
}

export interface Watch {
  close(): Promise<void>;
}

export function watchSources(o: WatchOptions): Watch {
  const debounceMs = o.debounceMs ?? 50;
  let timer: NodeJS.Timeout | undefined;
  let reason = '';
  const hint = (why: string) => {
    reason = why;
    if (timer) return;
    timer = setTimeout(() => {
      timer = undefined;
      o.onHint(reason);
    }, debounceMs);
    timer.unref();
  };

  // Watch each directory one level deep: kubelet's `..2026_...` folders and the
  // `..data` link live directly inside. A directory that does not exist yet is
  // found by the (fast, while not ready) poll.
  const paths = new Set<string>([...o.dirs, ...o.files.map((f) => dirname(f))]);
  const watcher: FSWatcher = watch([...paths], {
    ignoreInitial: true,
    followSymlinks: false,
    depth: 1,
    persistent: false,
    ignorePermissionErrors: true,
  });
  watcher.on('all', (event, path) => hint(`${event} ${path}`));
  watcher.on('error', (err) => o.log.warn({ event: 'watch_error', error: String(err) }, 'file watch error; polling continues'));

  let pollTimer: NodeJS.Timeout | undefined;
  const fastMs = o.fastPollMs ?? 250;
  const schedule = () => {
    const ms = o.fast?.() ? fastMs : o.pollMs;
    if (ms <= 0) return;
    pollTimer = setTimeout(() => {
      o.onHint('poll');
      schedule();
    }, ms);
    pollTimer.unref();
  };
  schedule();

  return {
    async close() {
      if (timer) clearTimeout(timer);
      if (pollTimer) clearTimeout(pollTimer);
      await watcher.close();
    },
  };
}

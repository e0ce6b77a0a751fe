// Node built-ins that some listeners or commands use and a sidecar's start
// does not, loaded on first use. The whole program is one bundle, whose
// imports all load when it starts: each of these cost every start its
// compilation, about 1 ms (child_process, readline) to 6 ms (http2, which
// only multiplexed tcp and HTTP/2 app probes need). docs/benchmarks.md,
// "Sidecar startup".
import type * as ChildProcess from 'node:child_process';
import type * as Http2 from 'node:http2';
import { createRequire } from 'node:module';
import type * as Readline from 'node:readline';

const load = createRequire(import.meta.url);

/** A getter that loads module `id` on its first call. */
function lazy<T>(id: string): () => T {
  let loaded: T | undefined;
  return () => (loaded ??= load(id) as T);
}

export const http2 = lazy<typeof Http2>('node:http2');
export const childProcess = lazy<typeof ChildProcess>('node:child_process');
export const readline = lazy<typeof Readline>('node:readline');

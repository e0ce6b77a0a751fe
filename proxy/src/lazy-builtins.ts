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
let http2Module: typeof Http2 | undefined;
let childProcessModule: typeof ChildProcess | undefined;
let readlineModule: typeof Readline | undefined;

export function http2(): typeof Http2 {
  return (http2Module ??= load('node:http2') as typeof Http2);
}

export function childProcess(): typeof ChildProcess {
  return (childProcessModule ??= load('node:child_process') as typeof ChildProcess);
}

export function readline(): typeof Readline {
  return (readlineModule ??= load('node:readline') as typeof Readline);
}

// Preloaded (`node --import`) into every process the demo starts: when the
// demo's end of our stdin closes (the demo exited, even by SIGKILL), stop
// gracefully with SIGTERM, and for good 3 s later. The "for good" runs in a
// worker thread: with the demo gone our stdout is a broken pipe, and a logger
// flushing synchronously at shutdown may block the main thread for ever
// (see test/e2e/proxy-broken-stdout.test.ts), so a timer there might never fire.
import { Worker } from 'node:worker_threads';

const stdin = process.stdin;
let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  const watchdog = new Worker(`setTimeout(() => process.kill(${process.pid}, 'SIGKILL'), 3000);`, { eval: true });
  watchdog.unref();
  process.kill(process.pid, 'SIGTERM');
};
stdin.on('end', stop);
stdin.on('error', stop);
stdin.resume();
// Reading stdin must not keep a process alive that is otherwise done.
(stdin as unknown as { unref?: () => void }).unref?.();

export {};

// Preloaded (`node --import`) into every process the demo starts: when the
// demo's end of our stdin closes (the demo exited, even by SIGKILL), stop
// gracefully with SIGTERM, and for good a few seconds later. Nothing else.
const stdin = process.stdin;
const stop = () => {
  process.kill(process.pid, 'SIGTERM');
  setTimeout(() => process.exit(1), 3000).unref();
};
stdin.on('end', stop);
stdin.on('error', stop);
stdin.resume();
// Reading stdin must not keep a process alive that is otherwise done.
(stdin as unknown as { unref?: () => void }).unref?.();

export {};

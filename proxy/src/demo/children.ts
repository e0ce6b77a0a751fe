// The demo's child processes: started in their own process group (a Ctrl-C in
// the terminal reaches only the demo, which then stops them in order), their
// output kept as a short tail per child, every pid tracked so that nothing is
// left behind, whatever way the demo ends.
import type { ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { programFile } from '../program-files.js';
import { childProcess, readline } from '../lazy-builtins.js';

const GUARD = pathToFileURL(programFile('demo/orphan-guard.js', 'orphan-guard.mjs')).href;
/** The built CLI: the bundle's entry, or dist/proxy/src/main.js. */
const CLI = programFile('main.js', 'tlsmesh.mjs');

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface Child {
  name: string;
  pid: number;
  proc: ChildProcess;
  exited: Promise<Exit>;
  /** True once the demo asked it to stop (an exit after that is expected). */
  stopping: boolean;
  /** The last lines of its stdout and stderr. */
  tail(): string[];
  /** The last line it wrote on stderr, if any. */
  lastError(): string | undefined;
}

const TAIL = 40;

export class Children {
  private readonly all = new Map<string, Child>();

  constructor(
    private readonly hooks: {
      onLine?: (child: Child, line: string, stream: 'stdout' | 'stderr') => void;
      onExit?: (child: Child, exit: Exit) => void;
      /** Also write each child's output to `<logDir>/<name>.log`. */
      logDir?: string;
      /** Extra environment for every child (the demo marks its children with TLSMESH_DEMO_DIR). */
      env?: Record<string, string>;
    } = {},
  ) {}

  /** `node --import guard SCRIPT ARGS...` (SCRIPT defaults to the tlsmesh CLI). */
  startNode(name: string, args: string[], script = CLI): Child {
    const proc = childProcess().spawn(process.execPath, ['--import', GUARD, script, ...args], {
      detached: true,
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, ...this.hooks.env },
    });
    const lines: string[] = [];
    const log: WriteStream | undefined = this.hooks.logDir ? createWriteStream(join(this.hooks.logDir, `${name.replace(/\W+/g, '-')}.log`)) : undefined;
    log?.on('error', () => {});
    let lastError: string | undefined;
    const exited = new Promise<Exit>((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
    proc.once('close', () => log?.end());
    const child: Child = {
      name,
      pid: proc.pid ?? -1,
      proc,
      exited,
      stopping: false,
      tail: () => [...lines],
      lastError: () => lastError,
    };
    for (const stream of ['stdout', 'stderr'] as const) {
      readline().createInterface({ input: proc[stream]! }).on('line', (line) => {
        lines.push(line);
        if (lines.length > TAIL) lines.shift();
        if (stream === 'stderr' && line.trim()) lastError = line.trim();
        log?.write(`${line}\n`);
        this.hooks.onLine?.(child, line, stream);
      });
    }
    proc.stdin!.on('error', () => {});
    // A spawn failure (ENOENT, EAGAIN) arrives as 'error' and never as 'exit'.
    proc.once('error', (err) => {
      lastError = err.message;
      proc.emit('exit', null, null);
    });
    this.all.set(name, child);
    void exited.then((exit) => this.hooks.onExit?.(child, exit));
    return child;
  }

  get(name: string): Child | undefined {
    return this.all.get(name);
  }

  list(): Child[] {
    return [...this.all.values()];
  }

  running(): Child[] {
    return this.list().filter((c) => c.proc.exitCode === null && c.proc.signalCode === null && c.pid > 0);
  }

  /** SIGTERM to every child still running, then SIGKILL to what is left after `graceMs`. */
  async stopAll(graceMs = 3000): Promise<void> {
    const live = this.running();
    for (const c of live) {
      c.stopping = true;
      signalGroup(c, 'SIGTERM');
    }
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((r) => (timer = setTimeout(r, graceMs)));
    await Promise.race([Promise.all(live.map((c) => c.exited)), late]);
    clearTimeout(timer);
    for (const c of this.running()) signalGroup(c, 'SIGKILL');
    await Promise.all(live.map((c) => c.exited));
  }

  /** Synchronous last resort (process 'exit', a second Ctrl-C): SIGKILL everything now. */
  killAllNow(): void {
    for (const c of this.running()) {
      c.stopping = true;
      signalGroup(c, 'SIGKILL');
    }
  }
}

function signalGroup(c: Child, signal: NodeJS.Signals): void {
  try {
    process.kill(-c.pid, signal); // the child leads its own group (detached)
  } catch {
    try {
      c.proc.kill(signal);
    } catch {
      // already gone
    }
  }
}

// Network namespaces for capture tests: a Lab creates namespaces, veth pairs and
// processes inside them, and dispose() removes every one of them (processes by
// pid first, then the namespaces, which take their veths and iptables rules
// along). Names carry the test process's pid, so parallel files never collide and
// a later run can sweep what a crashed one left. Root only: see needsRoot().
import { execFile, spawn, type ChildProcess } from 'node:child_process';

export const IS_ROOT = process.getuid?.() === 0;

/** True when the test may run; otherwise says loudly why it is skipped. */
export function needsRoot(what: string): boolean {
  if (IS_ROOT) return true;
  console.warn(`\n*** SKIPPED ${what}: needs root (network namespaces, iptables); CI runs it as root ***\n`);
  return false;
}

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

const PATH = [process.env.PATH, '/usr/sbin', '/sbin'].filter(Boolean).join(':');

/** Run a command; rejects on a non-zero exit unless allowFail. */
export function sh(cmd: string, args: string[], opts: { input?: string; allowFail?: boolean } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { env: { ...process.env, PATH }, timeout: 60_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      if (code !== 0 && !opts.allowFail) reject(new Error(`${cmd} ${args.join(' ')}: exit ${code}: ${stderr.trim()}`));
      else resolve({ code, stdout, stderr });
    });
    child.stdin?.on('error', () => {}); // the command may exit without reading
    child.stdin?.end(opts.input ?? '');
  });
}

/** Poll `probe` until it returns a value (not undefined), or fail at the deadline. */
export async function eventually<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, deadlineMs = 10_000): Promise<T> {
  const end = Date.now() + deadlineMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface RunAs {
  /** Run as this uid and gid (setpriv), e.g. the proxy's 1337. */
  uid?: number;
  env?: NodeJS.ProcessEnv;
}

function wrap(ns: string, cmd: string, args: string[], as: RunAs): [string, string[]] {
  const priv = as.uid === undefined ? [] : ['setpriv', `--reuid=${as.uid}`, `--regid=${as.uid}`, '--clear-groups'];
  return ['ip', ['netns', 'exec', ns, ...priv, cmd, ...args]];
}

export class Proc {
  private out = '';
  private err = '';
  readonly exited: Promise<number | null>;
  constructor(readonly child: ChildProcess) {
    child.stdout?.setEncoding('utf8').on('data', (d: string) => (this.out += d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (this.err += d));
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }
  get stdout(): string {
    return this.out;
  }
  get stderr(): string {
    return this.err;
  }
  /** Wait until the output matches (the process prints when it is ready). */
  waitFor(re: RegExp, opts: { stream?: 'stdout' | 'stderr'; deadlineMs?: number } = {}): Promise<RegExpMatchArray> {
    const what = `${re} in the ${opts.stream ?? 'stdout'} of ${this.child.spawnargs.join(' ')}`;
    return eventually(what, () => {
      if (this.child.exitCode !== null) throw new Error(`exited ${this.child.exitCode}: ${this.err.trim()}`);
      return (opts.stream === 'stderr' ? this.err : this.out).match(re) ?? undefined;
    }, opts.deadlineMs ?? 15_000);
  }
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGTERM');
    const killer = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
    await this.exited;
    clearTimeout(killer);
  }
}

export class Netns {
  constructor(
    readonly name: string,
    private readonly procs: Proc[],
  ) {}

  /** Run to completion inside the namespace. */
  run(cmd: string, args: string[], opts: RunAs & { input?: string; allowFail?: boolean } = {}): Promise<Run> {
    const [c, a] = wrap(this.name, cmd, args, opts);
    return sh(c, a, opts);
  }

  /** Start a long-running process inside the namespace; the lab stops it. */
  spawn(cmd: string, args: string[], opts: RunAs = {}): Proc {
    const [c, a] = wrap(this.name, cmd, args, opts);
    const proc = new Proc(spawn(c, a, { env: { ...process.env, PATH, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] }));
    this.procs.push(proc);
    return proc;
  }

  /** `ip -n NS ...` */
  ip(...args: string[]): Promise<Run> {
    return sh('ip', ['-n', this.name, ...args]);
  }
}

const PREFIX = 'tlsmesh-test-';
let counter = 0;

export class Lab {
  private readonly namespaces: Netns[] = [];
  private readonly procs: Proc[] = [];

  /** Removes namespaces left by test processes that no longer exist. */
  static async create(): Promise<Lab> {
    const list = await sh('ip', ['netns', 'list']);
    for (const line of list.stdout.split('\n')) {
      const m = new RegExp(`^(${PREFIX}(\\d+)-\\S+)`).exec(line);
      if (m && !alive(Number(m[2]))) await sh('ip', ['netns', 'del', m[1]!], { allowFail: true });
    }
    return new Lab();
  }

  /** A new namespace with loopback up. */
  async netns(label: string): Promise<Netns> {
    const name = `${PREFIX}${process.pid}-${++counter}-${label}`;
    await sh('ip', ['netns', 'add', name]);
    const ns = new Netns(name, this.procs);
    this.namespaces.push(ns);
    await ns.ip('link', 'set', 'lo', 'up');
    return ns;
  }

  /** A veth pair between two namespaces (`aIf` in a, `bIf` in b), each end with its address (CIDR). */
  async link(a: Netns, aAddr: string, b: Netns, bAddr: string, aIf = 'eth0', bIf = aIf): Promise<void> {
    await a.ip('link', 'add', aIf, 'type', 'veth', 'peer', 'name', bIf, 'netns', b.name);
    for (const [ns, addr, ifname] of [[a, aAddr, aIf], [b, bAddr, bIf]] as const) {
      await ns.ip('addr', 'add', addr, 'dev', ifname);
      await ns.ip('link', 'set', ifname, 'up');
    }
  }

  /** Stop every process, then delete every namespace. Safe to call twice. */
  async dispose(): Promise<void> {
    await Promise.all(this.procs.splice(0).map((p) => p.stop()));
    for (const ns of this.namespaces.splice(0)) await sh('ip', ['netns', 'del', ns.name], { allowFail: true });
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

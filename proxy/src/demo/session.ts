// One run of `tlsmesh demo`: start the mesh, watch it, attack it, stop it in
// order (attacker, then traffic, then the processes), clean up, summarize.
// Every child pid and the work directory are released whatever way the run
// ends: --duration, Ctrl-C, a child dying, or an uncaught error.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { COLOR, PLAIN, type Style } from './ansi.js';
import { attackerMaterial, unrelatedPin } from './attacker-pki.js';
import { attack, type AttackerMaterial } from './attacks.js';
import { Children, type Child, type Exit } from './children.js';
import { request } from './http-get.js';
import { createCa, parseIssuedLine, PROC, startRenewers, startWorkloads } from './launch.js';
import { Observer } from './observer.js';
import type { DemoOptions } from './options.js';
import { DemoOutput } from './output.js';
import { freePorts, portsAt } from './ports.js';
import { banner, summary } from './report.js';
import { ProcessHooks } from './process-hooks.js';
import { addEvent, ATTACKS, attackSeen, certificateIssued, COMPONENTS, initialState, markUp, trafficSeen, verdict, type DemoState, type TrafficStats } from './state.js';
import { layoutOf, urlsOf, WORKLOADS, type Layout, type Ports, type Urls, type Workload } from './topology.js';

export interface DemoIo {
  out: NodeJS.WriteStream;
  err: NodeJS.WriteStream;
  /** Live view in place (a terminal and no --plain). */
  live: boolean;
  color: boolean;
}

const TICK_MS = 250;
const STARTUP_LIMIT_MS = 90_000;
/** A certificate the issuer wrote and the sidecar still does not serve after this long is a failure (the contract says 2 s). */
const PICKUP_LIMIT_MS = 10_000;

export async function runDemo(o: DemoOptions, io: DemoIo): Promise<number> {
  const ports = o.basePort !== undefined ? await portsAt(o.basePort) : await freePorts();
  return new Session(o, io, ports).run();
}

class Session {
  private readonly s: DemoState;
  private readonly layout: Layout;
  private readonly urls: Urls;
  private readonly c: Style;
  private readonly children: Children;
  private readonly observer: Observer;
  private readonly output: DemoOutput;
  private stopping = false;
  private how = 'stopped';
  private exitCode: { code: number; line: string } | undefined;
  private requestStop!: () => void;
  private readonly stopRequested = new Promise<void>((r) => (this.requestStop = r));
  private material: AttackerMaterial | undefined;
  private startingTraffic = false;
  private readonly hooks: ProcessHooks;

  constructor(
    private readonly o: DemoOptions,
    private readonly io: DemoIo,
    private readonly ports: Ports,
  ) {
    this.s = initialState(Date.now(), o.ttlMs);
    this.layout = layoutOf(mkdtempSync(join(tmpdir(), 'tlsmesh-demo-')));
    this.urls = urlsOf(ports);
    this.c = io.color ? COLOR : PLAIN;
    const logDir = join(this.layout.dir, 'logs');
    mkdirSync(logDir);
    this.children = new Children({ logDir, env: { TLSMESH_DEMO_DIR: this.layout.dir }, onLine: (child, line, stream) => this.onLine(child, line, stream), onExit: (child, exit) => this.onExit(child, exit) });
    this.observer = new Observer(this.s, ports, this.urls, Date.now);
    this.output = new DemoOutput(this.s, { ports, urls: this.urls, durationMs: o.durationMs }, this.c, io.out, io.live);
    this.hooks = new ProcessHooks(
      { stop: (how) => this.stop(how), stopping: () => this.stopping, cleanupNow: () => this.cleanupNow(), outputGone: () => (this.output.gone = true) },
      io.out,
      io.err,
    );
  }

  async run(): Promise<number> {
    this.hooks.install();
    const ctx = { ports: this.ports, urls: this.urls, durationMs: this.o.durationMs };
    if (this.output.screen) {
      this.output.screen.enter();
      this.output.render();
    } else {
      for (const line of banner({ ...ctx, dir: this.layout.dir, ttlMs: this.o.ttlMs }, this.c)) this.output.print(line);
    }
    const tick = setInterval(() => void this.tick(), TICK_MS);
    let attacker: Promise<void> = Promise.resolve();
    try {
      // Each step checks for a stop (Ctrl-C while starting) before it begins; none is cut short
      // (a step cut short could write into the work dir after it was removed).
      await startWorkloads(this.children, this.layout, this.ports, unrelatedPin());
      if (!this.stopping) {
        await createCa(this.layout);
        markUp(this.s, 'ca');
        addEvent(this.s, 'info', `dev CA created for trust domain demo.local; issuing the first certificates`);
      }
      if (!this.stopping) startRenewers(this.children, this.layout, this.o.ttlMs);
      if (!this.stopping) this.material = await attackerMaterial(this.layout.caDir);
      if (!this.stopping) attacker = this.attackLoop();
      await this.stopRequested;
    } finally {
      this.stopping = true;
      await attacker.catch(() => {});
      await this.stopTraffic();
      await this.observer.settle().catch(() => {});
      this.s.now = Date.now();
      this.checkPickups();
      clearInterval(tick);
      this.output.screen?.leave();
    }
    const stopped = this.children.list().filter((c) => c.pid > 0).length;
    await this.children.stopAll(3000);
    if (!this.o.keep) rmSync(this.layout.dir, { recursive: true, force: true });
    const cleanup = { stopped, dir: this.layout.dir, removed: !existsSync(this.layout.dir), kept: this.o.keep };
    this.output.flushEvents();
    for (const line of summary(this.s, cleanup, this.c, this.how)) this.output.print(line);
    this.hooks.remove();
    if (this.exitCode) {
      this.io.err.write(`${this.exitCode.line}\n`);
      return this.exitCode.code;
    }
    return verdict(this.s).pass && (cleanup.removed || this.o.keep) ? 0 : 1;
  }

  private async tick(): Promise<void> {
    if (this.stopping) return;
    await this.observer.poll().catch(() => {});
    this.s.now = Date.now();
    const s = this.s;
    if (s.upAt === undefined && !this.startingTraffic && COMPONENTS.every((k) => s.components[k] === 'up')) {
      void this.startTraffic();
    }
    if (s.upAt === undefined && s.now - s.startedAt > STARTUP_LIMIT_MS) {
      const late = COMPONENTS.filter((k) => s.components[k] !== 'up');
      this.fail(`the mesh did not come up within ${STARTUP_LIMIT_MS / 1000}s (waiting for: ${late.join(', ')})`);
    }
    if (s.upAt !== undefined && this.o.durationMs !== undefined && s.now - s.upAt >= this.o.durationMs) this.stop(`--duration ${this.o.durationMs / 1000}s reached`);
    this.output.render();
  }

  private async startTraffic(): Promise<void> {
    this.startingTraffic = true;
    const r = await request(`${this.urls.frontendApp}/start`, { method: 'POST' });
    if (r.status !== 200) return this.fail(`the frontend app did not start its traffic: ${r.status} ${r.body}`);
    this.s.now = Date.now();
    this.s.upAt = this.s.now;
    addEvent(this.s, 'good', `mesh up in ${((this.s.upAt - this.s.startedAt) / 1000).toFixed(1)}s: traffic flowing frontend -> backend over mTLS`);
  }

  private async stopTraffic(): Promise<void> {
    if (this.s.upAt === undefined) return;
    const r = await request(`${this.urls.frontendApp}/stop`, { method: 'POST', timeoutMs: 15_000 });
    this.s.now = Date.now();
    if (r.status === 200) trafficSeen(this.s, JSON.parse(r.body) as TrafficStats);
    else this.s.problems.push(`could not read the final request counts from the frontend app: ${r.body}`);
  }

  private async attackLoop(): Promise<void> {
    let next = 0;
    while (!this.stopping) {
      await this.sleep(this.s.upAt === undefined ? TICK_MS : this.o.attackEveryMs);
      if (this.stopping || this.s.upAt === undefined || !this.material) continue;
      const kind = ATTACKS[next++ % ATTACKS.length]!;
      const outcome = await attack(kind, this.ports, this.urls, this.material, Date.now);
      this.s.now = Date.now();
      attackSeen(this.s, outcome);
    }
  }

  private sleep(ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    return Promise.race([new Promise<void>((r) => (timer = setTimeout(r, ms))), this.stopRequested]).finally(() => clearTimeout(timer));
  }

  private onLine(child: Child, line: string, stream: 'stdout' | 'stderr'): void {
    const w = WORKLOADS.find((x) => child.name === PROC.renewer(x));
    if (!w) return;
    this.s.now = Date.now();
    const issued = stream === 'stdout' ? parseIssuedLine(line) : undefined;
    if (issued) {
      certificateIssued(this.s, w, issued.serial);
      if (this.s.identities.frontend.issued.length && this.s.identities.backend.issued.length) markUp(this.s, 'renewers');
    } else if (stream === 'stderr' && line.trim()) {
      addEvent(this.s, 'bad', `${child.name}: ${line.trim()}`);
    }
  }

  private onExit(child: Child, exit: Exit): void {
    if (child.stopping || this.stopping) return;
    // The apps and sidecars are named as their components (PROC); the renewers are one component.
    const component = COMPONENTS.find((c) => c === child.name) ?? 'renewers';
    this.s.components[component] = 'exited';
    const why = child.lastError() ?? `exit ${exit.code ?? exit.signal}`;
    if (/address already in use/.test(why)) this.exitCode = { code: 2, line: `demo: ${child.name}: ${why.replace(/^tlsmesh: /, '')}` };
    this.fail(`${child.name} exited unexpectedly: ${why}`);
  }

  private checkPickups(): void {
    for (const w of WORKLOADS as Workload[]) {
      const id = this.s.identities[w];
      const last = id.issued[id.issued.length - 1];
      if (last && id.serial !== last.serial && this.s.now - last.at > PICKUP_LIMIT_MS) {
        this.s.problems.push(`the ${w} sidecar still serves ${id.serial ?? 'nothing'}: certificate ${last.serial} was written ${((this.s.now - last.at) / 1000).toFixed(0)}s ago`);
      }
    }
  }

  private fail(why: string): void {
    if (this.stopping) return;
    this.s.now = Date.now();
    this.s.problems.push(why);
    addEvent(this.s, 'bad', why);
    this.stop('stopped by a failure');
  }

  private stop(how: string): void {
    if (this.stopping) return;
    this.how = how;
    this.stopping = true;
    this.requestStop();
  }

  /** Synchronous: kill every child, remove the work dir, restore the terminal. */
  private cleanupNow(): void {
    this.children.killAllNow();
    if (!this.o.keep) rmSync(this.layout.dir, { recursive: true, force: true });
    this.output.screen?.leave();
  }
}

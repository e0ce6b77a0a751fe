// Plain output (no terminal, or --plain): a banner, one line per event, a
// status line every few seconds, and the one-screen summary printed at the end
// in both modes. Pure: strings from the state.
import type { Style } from './ansi.js';
import { attackTotals, isAttack, meshConnections, rate, refusals, short, verdict, type DemoState, type Event } from './state.js';
import { WORKLOADS } from './topology.js';
import { clock, elapsed, sinceStart, type ViewContext } from './view.js';

export function banner(ctx: ViewContext & { dir: string; ttlMs: { frontend: number; backend: number } }, c: Style): string[] {
  const p = ctx.ports;
  return [
    `${c.bold('tlsmesh demo')}: a local mesh on 127.0.0.1 with real mTLS, rotating certificates and an attacker (work dir ${ctx.dir})`,
    `  frontend app :${p.frontendApp} -> frontend sidecar :${p.frontendOut} ==mTLS==> backend sidecar :${p.backendIn} -> backend app :${p.backendApp}`,
    `  certificates live ${ctx.ttlMs.frontend / 1000}s (frontend) and ${ctx.ttlMs.backend / 1000}s (backend), renewed at 2/3 with a new key`,
    `  meanwhile: curl ${ctx.urls.frontendApp}/   curl ${ctx.urls.admin.backend}/certs   curl ${ctx.urls.admin.frontend}/metrics`,
  ];
}

export function eventLine(s: DemoState, e: Event, c: Style): string {
  const paint = e.level === 'bad' ? c.red : (x: string) => x;
  return `[${sinceStart(s, e.at)}] ${paint(e.text)}`;
}

export function statusLine(s: DemoState): string {
  const ids = WORKLOADS.map((w) => {
    const id = s.identities[w];
    const left = id.notAfter === undefined ? '-' : `${Math.max(0, Math.ceil((id.notAfter - s.now) / 1000))}s left`;
    return `${w} ${short(id.serial)} ${left}, ${id.rotations} rotation${id.rotations === 1 ? '' : 's'}`;
  }).join(' | ');
  const refused = refusals(s)
    .filter((r) => r.count > 0 || isAttack(r.reason))
    .map((r) => `${r.reason} ${r.count}`)
    .join(', ');
  return `[${sinceStart(s)}] requests ${s.traffic.ok} ok, ${s.traffic.failed} failed (${rate(s).toFixed(1)}/s) | ${ids} | refused ${refused}`;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)}s`;

export interface Cleanup {
  stopped: number;
  dir: string;
  removed: boolean;
  kept: boolean;
}

export function summary(s: DemoState, cleanup: Cleanup, c: Style, how: string): string[] {
  const v = verdict(s);
  const result = v.pass ? c.green(c.bold('PASS')) : c.red(c.bold('FAIL'));
  const rot = WORKLOADS.map((w) => `${w} ${s.identities[w].rotations}`).join(', ');
  const pickups = WORKLOADS.flatMap((w) => s.identities[w].pickupMs);
  const pickup = pickups.length ? `, each in use ${seconds(Math.max(...pickups))} or less after it was written` : '';
  const counted = refusals(s).filter((r) => r.count > 0);
  const { tries, refused: ok } = attackTotals(s);
  const mesh = meshConnections(s);
  const causes = Object.entries(mesh.byCause).map(([cause, k]) => `${cause} ${k}`);
  const recycled = causes.length ? ` (${causes.join(', ')})` : '';
  const up = s.upAt === undefined ? 'the mesh never came up' : `mesh up after ${seconds(s.upAt - s.startedAt)}`;
  const lines = [
    '',
    `${c.bold('tlsmesh demo summary')}: ${result}, ${how}`,
    `  traffic      ${clock(elapsed(s))} (${up})`,
    `  requests     ${s.traffic.ok} ok, ${s.traffic.failed} failed`,
    `  rotations    ${rot}${pickup}`,
    `  refused      ${counted.length ? counted.map((r) => `${r.reason} ${r.count}`).join(', ') : 'none'}`,
    `  attacker     ${tries} tries, ${ok} refused with the expected reason`,
    `  mTLS         ${mesh.handshakes} handshakes accepted between the sidecars, ${mesh.recycled} connections recycled${recycled}`,
    `  cleanup      ${cleanup.stopped} processes stopped, work dir ${cleanup.kept ? `kept (--keep): ${cleanup.dir}` : cleanup.removed ? 'removed' : `NOT removed: ${cleanup.dir}`}`,
  ];
  if (!v.pass) {
    lines.push(c.red('  failed because:'));
    for (const why of v.why.slice(0, 6)) lines.push(c.red(`    - ${why}`));
    for (const f of s.traffic.failures.slice(-3)) lines.push(c.red(`    - request at ${f.at}: ${f.what}`));
  }
  lines.push('next: docs/demo.md explains what you saw; docs/install.md puts tlsmesh on a cluster.');
  return lines;
}

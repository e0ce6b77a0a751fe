// The live view: one frame of lines from the state, sized to the terminal.
// Pure: the screen module draws it in place.
import { bar, padEnd, truncate, visibleLength, type Style } from './ansi.js';
import { ATTACK_SPECS } from './attacks.js';
import { attackTotals, isAttack, meshConnections, rate, refusals, short, type ComponentState, type DemoState } from './state.js';
import { WORKLOADS, type Ports, type Urls } from './topology.js';

export interface ViewContext {
  ports: Ports;
  urls: Urls;
  durationMs?: number;
}

export function clock(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

/** Time since the mesh came up (the clock --duration counts). */
export function elapsed(s: DemoState): number {
  return s.upAt === undefined ? 0 : s.now - s.upAt;
}

/** Time since the demo started (the clock every line is stamped with). */
export function sinceStart(s: DemoState, at = s.now): string {
  return clock(at - s.startedAt);
}

const n = (x: number) => x.toLocaleString('en-US');

function mark(st: ComponentState, c: Style): string {
  return st === 'up' ? c.green('✓') : st === 'exited' ? c.red('✗') : c.yellow('…');
}

/** How much room there is: narrow terminals get shorter lines, short ones fewer blank lines and no subtitles. */
interface Room {
  narrow: boolean;
  short: boolean;
}

export function header(s: DemoState, ctx: ViewContext, c: Style, room: Room = { narrow: false, short: false }): string[] {
  let when: string;
  if (s.upAt === undefined) when = c.yellow('starting the mesh…');
  else if (ctx.durationMs !== undefined) when = `traffic ${clock(elapsed(s))} of ${clock(ctx.durationMs)}`;
  else when = `traffic for ${clock(elapsed(s))}   ${c.dim('Ctrl-C ends')}`;
  const top = `${c.bold('tlsmesh demo')}  ${sinceStart(s)}   ${when}`;
  return room.short ? [top] : [top, c.dim(' a local mesh on 127.0.0.1: real mTLS between sidecars, certificates rotating, an attacker knocking')];
}

function topology(s: DemoState, ctx: ViewContext, c: Style, room: Room): string[] {
  const p = ctx.ports;
  const st = s.components;
  const cols = [
    [`frontend app ${mark(st['frontend app'], c)}`, `:${p.frontendApp}`],
    [`frontend sidecar ${mark(st['frontend sidecar'], c)}`, `out :${p.frontendOut}`],
    [`backend sidecar ${mark(st['backend sidecar'], c)}`, `in :${p.backendIn}`],
    [`backend app ${mark(st['backend app'], c)}`, `:${p.backendApp}`],
  ];
  const arrows = room.narrow ? [' ─▶ ', c.cyan(' ═mTLS═▶ '), ' ─▶ '] : [' ─http─▶ ', c.cyan(' ═mTLS═▶ '), ' ─http─▶ '];
  const widths = [14, 18, 17, 13];
  const top = cols.map((col, i) => padEnd(col[0]!, widths[i]!) + (arrows[i] ?? '')).join('');
  const bottom = cols.map((col, i) => padEnd(c.dim(col[1]!), widths[i]!) + (arrows[i] ? ' '.repeat(visibleLength(arrows[i]!)) : '')).join('');
  const indent = room.narrow ? '' : '   ';
  return [`${indent}${top}`, `${indent}${bottom}`];
}

function requests(s: DemoState, c: Style, room: Room): string[] {
  const failed = s.traffic.failed === 0 ? c.green('0 failed') : c.red(c.bold(`${n(s.traffic.failed)} failed`));
  const m = meshConnections(s);
  const plural = (k: number, word: string) => `${k} ${word}${k === 1 ? '' : 's'}`;
  const why = room.narrow ? '' : ' (a certificate rotated or expired)';
  const lines = [
    c.bold(' REQUESTS') + c.dim('  frontend app -> backend app, through both sidecars'),
    `   ${c.bold(n(s.traffic.ok))} ok   ${failed}   ${rate(s).toFixed(1)}/s`,
    c.dim(`   mTLS hop: ${plural(m.open, 'connection')} open, ${plural(m.handshakes, 'handshake')}, ${m.recycled} recycled${why}`),
  ];
  const last = s.traffic.failures[s.traffic.failures.length - 1];
  if (last) lines.push(c.red(`   last failure: ${last.what}`));
  return lines;
}

function identities(s: DemoState, c: Style, room: Room): string[] {
  const lines = [c.bold(' IDENTITIES') + c.dim('  renewed at 2/3 of the lifetime with a new key')];
  const width = room.narrow ? 12 : 20;
  for (const w of WORKLOADS) {
    const id = s.identities[w];
    const name = padEnd(w, 9);
    if (id.serial === undefined || id.notAfter === undefined || id.notBefore === undefined) {
      lines.push(`   ${name} ${c.dim(`${id.spiffeId}  waiting for the first certificate`)}`);
      continue;
    }
    const left = id.notAfter - s.now;
    const life = id.notAfter - id.notBefore;
    const frac = left / life;
    const paint = frac > 1 / 3 ? c.green : frac > 0 ? c.yellow : c.red;
    const leftText = `${String(Math.max(0, Math.ceil(left / 1000))).padStart(3)}s of ${Math.round(life / 1000)}s left`;
    lines.push(`   ${name} serial ${c.cyan(short(id.serial))}  rotations ${c.bold(String(id.rotations).padEnd(3))} [${paint(bar(frac, width))}] ${leftText}`);
  }
  return lines;
}

function refused(s: DemoState, c: Style, room: Room): string[] {
  const lines = [c.bold(' REFUSED') + c.dim('  tlsmesh_handshakes_total{result="error"}, as the sidecars count them')];
  for (const r of refusals(s)) {
    const kind = isAttack(r.reason) ? r.reason : undefined;
    if (!kind && r.count === 0) continue;
    const where = r.where.length ? r.where.join(', ') : '-';
    const what = kind ? c.dim(`<- ${room.narrow ? ATTACK_SPECS[kind].short : ATTACK_SPECS[kind].what}`) : '';
    lines.push(`   ${padEnd(r.reason, 16)}${String(r.count).padStart(4)}  ${padEnd(c.dim(where), 22)} ${what}`);
  }
  const { tries, refused: ok } = attackTotals(s);
  const verdict = tries === ok ? c.green(`${ok} refused with the expected reason`) : c.red(`${tries - ok} NOT refused as expected`);
  lines.push(`   attacker tries: ${tries}, ${verdict}`);
  const protocol = refusals(s).find((r) => r.reason === 'protocol')?.count ?? 0;
  if (protocol > s.attacks.protocol.tries && !room.short) lines.push(c.dim('   (protocol also counts the handshakes the frontend sidecar abandons on a pin mismatch)'));
  return lines;
}

function recent(s: DemoState, c: Style, rows: number): string[] {
  const lines = [c.bold(' RECENT')];
  const events = s.events.slice(-Math.max(1, rows));
  if (events.length === 0) lines.push(c.dim('   (nothing yet)'));
  for (const e of events) {
    const paint = e.level === 'bad' ? c.red : e.level === 'good' ? (x: string) => x : c.dim;
    lines.push(`   ${c.dim(sinceStart(s, e.at).padStart(5))}  ${paint(e.text)}`);
  }
  return lines;
}

function tryMeanwhile(ctx: ViewContext, c: Style, room: Room): string[] {
  const u = ctx.urls;
  const row = (cmd: string, what: string) => `   ${padEnd(cmd, 40)} ${c.dim(what)}`;
  const rows = [
    row(`curl ${u.frontendApp}/`, 'one request through the mesh'),
    row(`curl ${u.admin.backend}/certs`, 'the backend identity in use'),
    row(`curl ${u.admin.frontend}/metrics`, 'frontend sidecar metrics'),
    row(`curl ${u.admin.backend}/metrics`, 'backend sidecar metrics'),
  ];
  return [c.bold(' TRY MEANWHILE'), ...(room.short ? rows.slice(0, 3) : rows)];
}

/** The whole frame, at most `rows - 1` lines of at most `columns - 1` visible characters. */
export function frame(s: DemoState, ctx: ViewContext, c: Style, columns: number, rows: number): string[] {
  const room: Room = { narrow: columns < 100, short: rows < 36 };
  const gap = room.short ? [] : [''];
  const head = [...header(s, ctx, c, room), '', ...topology(s, ctx, c, room), ''];
  const middle = [...requests(s, c, room), ...gap, ...identities(s, c, room), ...gap, ...refused(s, c, room), ...gap];
  const tail = [...gap, ...tryMeanwhile(ctx, c, room)];
  const room4recent = rows - 1 - head.length - middle.length - tail.length - 1;
  const lines = [...head, ...middle, ...recent(s, c, Math.min(8, room4recent)), ...tail];
  return lines.slice(0, Math.max(1, rows - 1)).map((l) => truncate(l, Math.max(20, columns - 1)));
}

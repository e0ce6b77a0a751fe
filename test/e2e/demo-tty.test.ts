// `tlsmesh demo` on a real terminal (a tmux pane, 120x40): the live view
// renders every section and redraws in place (one frame at the top of the
// screen whose numbers change, never a scrolling stream), then leaves the
// terminal as it was with the summary on the normal screen.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { demoProcessesUnder, parseSummary } from '../support/demo.js';
import { CLI, eventually } from '../support/processes.js';

const socket = `tlsmesh-demo-test-${process.pid}`;
const tmux = (...args: string[]) => execFileSync('tmux', ['-L', socket, ...args], { encoding: 'utf8' });
const tmp = mkdtempSync(join(tmpdir(), 'tlsmesh-demo-tty-'));
const pane = () => tmux('capture-pane', '-p', '-t', 'demo');
const SECTIONS = ['REQUESTS', 'IDENTITIES', 'REFUSED', 'RECENT', 'TRY MEANWHILE'];
const count = (text: string, what: string) => text.split(what).length - 1;

afterAll(() => {
  try {
    tmux('kill-server');
  } catch {
    // already gone
  }
  rmSync(tmp, { recursive: true, force: true });
});

describe('tlsmesh demo on a terminal', () => {
  it('draws the live view in place and ends with the summary on the normal screen', { timeout: 120_000 }, async () => {
    const exitFile = join(tmp, 'exit');
    // The shell records the exit status, then waits so the pane can be read.
    const script = `TMPDIR=${tmp} ${process.execPath} ${CLI} demo --duration 12; echo $? > ${exitFile}; sleep 600`;
    tmux('new-session', '-d', '-s', 'demo', '-x', '120', '-y', '40', script);
    tmux('set-option', '-t', 'demo', 'history-limit', '5000');

    // A first frame, with the mesh up and traffic counted.
    const whole = (p: string) => SECTIONS.every((s) => p.includes(s));
    const first = await eventually(() => {
      const p = pane();
      return whole(p) && /traffic 0:0\d of 0:12/.test(p) && /REQUESTS[\s\S]*\n\s+[1-9][\d,]* ok/.test(p) ? p : undefined;
    }, 'a live frame with traffic', 60_000);
    for (const section of SECTIONS) expect(count(first, section), `${section} once\n${first}`).toBe(1);
    expect(first.split('\n')[0]).toMatch(/^tlsmesh demo\s+\d+:\d\d\s+traffic/);
    expect(first).toMatch(/frontend app ✓ ─http─▶ frontend sidecar ✓ ═mTLS═▶ backend sidecar ✓ ─http─▶ backend app ✓/);
    expect(first).toMatch(/frontend\s+serial [0-9a-f]{8}\s+rotations \d+\s+\[[█░]{20}\]\s+\d+s of \d+s left/);
    expect(first).toMatch(/backend\s+serial [0-9a-f]{8}\s+rotations \d+\s+\[[█░]{20}\]\s+\d+s of \d+s left/);
    expect(first).toMatch(/curl http:\/\/127\.0\.0\.1:\d+\/metrics/);
    expect(first).toMatch(/curl http:\/\/127\.0\.0\.1:\d+\/certs/);
    const okIn = (p: string) => Number(/\n\s+([\d,]+) ok/.exec(p)![1]!.replace(/,/g, ''));

    // Later frames: the same single frame at the top, with new numbers.
    const later = await eventually(() => {
      const p = pane();
      return whole(p) && /rotations [1-9]/.test(p) && /attacker tries: [1-9]/.test(p) && okIn(p) > okIn(first) ? p : undefined;
    }, 'a redrawn frame with a rotation and an attack', 60_000);
    expect(later.split('\n')[0]).toMatch(/^tlsmesh demo/);
    for (const section of SECTIONS) expect(count(later, section), `${section} once\n${later}`).toBe(1);
    expect(later).toMatch(/refused with the expected reason/);

    // The end: the alternate screen is gone, the summary stays, no frame went into the scrollback.
    const code = await eventually(() => readFileSync(exitFile, 'utf8').trim() || undefined, 'the demo to exit', 60_000).catch(() => 'none');
    const history = tmux('capture-pane', '-p', '-t', 'demo', '-S', '-5000');
    expect(code, history).toBe('0');
    const summary = parseSummary(history);
    expect(summary?.pass, history).toBe(true);
    expect(summary?.failed).toBe(0);
    expect(count(history, 'REQUESTS'), history).toBe(0);
    expect(count(history, 'tlsmesh demo summary'), history).toBe(1);
    // Nothing left behind: the demo made its work dir under our TMPDIR; it is gone, and so is every process marked with it.
    expect(readdirSync(tmp).filter((e) => e.startsWith('tlsmesh-demo-'))).toEqual([]);
    expect(demoProcessesUnder(tmp)).toEqual([]);
  });
});


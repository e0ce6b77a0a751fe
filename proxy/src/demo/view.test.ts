import { describe, expect, it } from 'vitest';
import { bar, COLOR, PLAIN, truncate, visibleLength } from './ansi.js';
import { summary, statusLine } from './report.js';
import { certsSeen, initialState, type DemoState } from './state.js';
import { portsFromBase, urlsOf } from './topology.js';
import { frame, type ViewContext } from './view.js';

const T0 = Date.parse('2026-11-29T06:00:00Z');
const ports = portsFromBase(15000);
const ctx: ViewContext = { ports, urls: urlsOf(ports), durationMs: 20_000 };

function running(): DemoState {
  const s = initialState(T0, { frontend: 10_000, backend: 8_000 });
  for (const c of Object.keys(s.components) as (keyof DemoState['components'])[]) s.components[c] = 'up';
  s.upAt = T0 + 2000;
  s.now = T0 + 7000;
  certsSeen(s, 'frontend', { serialNumber: '0123456789abcdef', notBefore: new Date(T0).toISOString(), notAfter: new Date(T0 + 10_000).toISOString() });
  certsSeen(s, 'backend', { serialNumber: 'fedcba9876543210', notBefore: new Date(T0).toISOString(), notAfter: new Date(T0 + 8_000).toISOString() });
  s.traffic.ok = 1234;
  return s;
}

describe('ansi helpers', () => {
  it('bar: the share of the lifetime left, clamped', () => {
    expect(bar(0.5, 10)).toBe('█████░░░░░');
    expect(bar(-1, 4)).toBe('░░░░');
    expect(bar(2, 4)).toBe('████');
    expect(bar(Number.NaN, 4)).toBe('░░░░');
  });

  it('truncate counts visible characters only and closes any style it cut', () => {
    const s = `${COLOR.green('abcdef')}ghi`;
    expect(visibleLength(s)).toBe(9);
    expect(truncate(s, 4)).toBe('\x1b[32mabcd\x1b[0m');
    expect(truncate('short', 10)).toBe('short');
  });
});

describe('the live frame', () => {
  it.each([
    [120, 40],
    [80, 24],
    [60, 20],
  ])('fits %ix%i', (columns, rows) => {
    const lines = frame(running(), ctx, COLOR, columns, rows);
    expect(lines.length).toBeLessThanOrEqual(rows - 1);
    for (const l of lines) expect(visibleLength(l)).toBeLessThanOrEqual(columns - 1);
  });

  it.each([
    [120, 40],
    [80, 24],
  ])('at %ix%i the topology, every identity with its rotations, every reason and a curl line are whole', (columns, rows) => {
    const text = frame(running(), ctx, PLAIN, columns, rows).join('\n');
    expect(text).toMatch(/frontend app ✓ ─(http─)?▶ frontend sidecar ✓ ═mTLS═▶ backend sidecar ✓ ─(http─)?▶ backend app ✓/);
    expect(text).toMatch(/frontend +serial 01234567 {2}rotations 0 +\[[█░]+\] +3s of 10s left/);
    expect(text).toMatch(/backend +serial fedcba98 {2}rotations 0 +\[[█░]+\] +1s of 8s left/);
    for (const reason of ['untrusted', 'identity_denied', 'pin_mismatch', 'protocol']) expect(text).toContain(`   ${reason} `);
    expect(text).toContain('RECENT');
    expect(text).toContain('curl http://127.0.0.1:15001/certs');
  });

  it('shows the clock, the topology, requests, each identity with its bar, refusals and the URLs to curl', () => {
    const text = frame(running(), ctx, PLAIN, 140, 60).join('\n');
    expect(text).toMatch(/^tlsmesh demo {2}0:07 {3}traffic 0:05 of 0:20/);
    expect(text).toContain('frontend app ✓ ─http─▶ frontend sidecar ✓ ═mTLS═▶ backend sidecar ✓ ─http─▶ backend app ✓');
    expect(text).toContain('1,234 ok   0 failed');
    // 3 s of a 10 s lifetime left: 6 of 20 cells.
    expect(text).toMatch(/frontend +serial 01234567 {2}rotations 0 +\[██████░{14}\] +3s of 10s left/);
    expect(text).toMatch(/backend +serial fedcba98 {2}rotations 0 +\[███░{17}\] +1s of 8s left/);
    expect(text).toContain('untrusted');
    expect(text).toContain('curl http://127.0.0.1:15000/metrics');
    expect(text).toContain('curl http://127.0.0.1:15001/certs');
    expect(text).toContain('curl http://127.0.0.1:15002/');
  });

  it('before the mesh is up: says so, and waits for the first certificates', () => {
    const s = initialState(T0, { frontend: 10_000, backend: 8_000 });
    s.now = T0 + 1200;
    const text = frame(s, ctx, PLAIN, 140, 60).join('\n');
    expect(text).toMatch(/^tlsmesh demo {2}0:01 {3}starting the mesh…/);
    expect(text).toContain('frontend app …');
    expect(text).toContain('spiffe://demo.local/ns/default/sa/backend  waiting for the first certificate');
  });
});

describe('plain output', () => {
  it('a status line with everything on one line', () => {
    expect(statusLine(running())).toBe(
      '[0:07] requests 1234 ok, 0 failed (0.0/s) | frontend 01234567 3s left, 0 rotations | backend fedcba98 1s left, 0 rotations | refused untrusted 0, identity_denied 0, pin_mismatch 0, protocol 0',
    );
  });

  it('the summary: PASS, the counts, the cleanup, where to go next', () => {
    const lines = summary(running(), { stopped: 6, dir: '/tmp/x', removed: true, kept: false }, PLAIN, '--duration 20s reached');
    expect(lines).toContain('tlsmesh demo summary: PASS, --duration 20s reached');
    expect(lines).toContain('  requests     1234 ok, 0 failed');
    expect(lines).toContain('  cleanup      6 processes stopped, work dir removed');
    expect(lines.at(-1)).toBe('next: docs/demo.md explains what you saw; docs/install.md puts tlsmesh on a cluster.');
  });

  it('the summary of a failed run says why', () => {
    const s = running();
    s.traffic.failed = 2;
    s.traffic.failures = [{ at: '2026-11-29T06:00:05.000Z', what: 'ECONNRESET: socket hang up' }];
    const lines = summary(s, { stopped: 6, dir: '/tmp/x', removed: true, kept: false }, PLAIN, 'interrupted (Ctrl-C)');
    expect(lines).toContain('tlsmesh demo summary: FAIL, interrupted (Ctrl-C)');
    expect(lines).toContain('    - 2 legitimate requests failed');
    expect(lines).toContain('    - request at 2026-11-29T06:00:05.000Z: ECONNRESET: socket hang up');
  });
});

import { describe, expect, it } from 'vitest';
import { UsageError } from '../errors.js';
import { attackInterval, lifetimes, parseDemoOptions } from './options.js';
import { renewalTime } from '../identity/renewal.js';

describe('lifetimes', () => {
  it.each([
    ['no duration: 30 s and 24 s', undefined, undefined, { frontend: 30_000, backend: 24_000 }],
    ['--duration 20: half of it', 20_000, undefined, { frontend: 10_000, backend: 8_000 }],
    ['a long run keeps 30 s', 600_000, undefined, { frontend: 30_000, backend: 24_000 }],
    ['a very short run: at least 6 s', 4_000, undefined, { frontend: 6_000, backend: 4_800 }],
    ['--ttl wins', 20_000, 45_000, { frontend: 45_000, backend: 36_000 }],
  ])('%s', (_name, duration, ttl, want) => {
    expect(lifetimes(duration, ttl)).toEqual(want);
  });

  it('puts at least two renewals of each identity inside any --duration from 12 s up', () => {
    for (const d of [12_000, 20_000, 45_000, 60_000, 90_000, 300_000]) {
      const ttl = lifetimes(d, undefined);
      for (const life of [ttl.frontend, ttl.backend]) {
        const every = renewalTime(0, life) - 0;
        expect(Math.floor(d / every), `duration ${d}, lifetime ${life}`).toBeGreaterThanOrEqual(2);
      }
    }
  });
});

describe('attackInterval', () => {
  it.each([
    [undefined, 3000],
    [20_000, 3000],
    [12_000, 2000],
    [3_000, 1000],
  ])('duration %s -> every %s ms', (d, want) => {
    expect(attackInterval(d)).toBe(want);
  });
});

describe('parseDemoOptions', () => {
  it('defaults: live on a terminal, plain otherwise', () => {
    expect(parseDemoOptions([], true)).toMatchObject({ durationMs: undefined, plain: false, basePort: undefined, keep: false });
    expect(parseDemoOptions([], false).plain).toBe(true);
    expect(parseDemoOptions(['--plain'], true).plain).toBe(true);
  });

  it('reads --duration in seconds (or with a unit), --base-port and --ttl', () => {
    const o = parseDemoOptions(['--duration', '20', '--base-port', '15000', '--ttl', '1m', '--keep'], false);
    expect(o).toMatchObject({ durationMs: 20_000, basePort: 15000, ttlMs: { frontend: 60_000, backend: 48_000 }, keep: true });
    expect(parseDemoOptions(['--duration', '2m'], false).durationMs).toBe(120_000);
  });

  it.each([
    [['--duration', '0'], 'demo: --duration: expected a number of seconds (got 0)'],
    [['--duration', 'x'], 'demo: --duration: expected a number of seconds (got x)'],
    [['--base-port', '0'], 'demo: --base-port: expected a port from 1 to 65529 (got 0)'],
    [['--base-port', '80a'], 'demo: --base-port: expected a port from 1 to 65529 (got 80a)'],
    [['--ttl', '2s'], 'demo: --ttl: expected a duration of at least 3s, like 30s (got 2s)'],
    [['--nope'], 'demo: unknown flag: --nope'],
    [['extra'], 'demo: unexpected argument: extra'],
  ])('%j -> %s', (args, message) => {
    expect(() => parseDemoOptions(args, false)).toThrow(UsageError);
    expect(() => parseDemoOptions(args, false)).toThrow(message);
  });
});

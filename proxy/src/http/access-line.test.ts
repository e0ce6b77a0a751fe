import pino from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { type LogLevel, loggerOptions } from '../log.js';
import { accessLine, jsonString, PATH_MAX, pathOf } from './access-line.js';

type Args = [peer: string | undefined, method: string | undefined, target: string | undefined, code: number, durationMs: number];

function capture(level: LogLevel = 'info', extra: pino.LoggerOptions = {}) {
  const lines: string[] = [];
  const log = pino({ ...loggerOptions(level, 'proxy', () => {}), ...extra }, { write: (s: string) => void lines.push(s) });
  return { log, lines };
}

/** The line as pino writes it from the object the h1 engine used to pass. */
function viaPino(log: pino.Logger, [peer, method, target, code, durationMs]: Args): void {
  log.info({ event: 'request', direction: 'inbound', listener: 'inbound[0]', peer, method, path: pathOf(target), code, durationMs });
}

const sameTime = (line: string) => line.replace(/"time":"[^"]*"/, '"time":"T"');

const cases: [string, Args][] = [
  ['plain', ['spiffe://td/ns/default/sa/client', 'GET', '/', 200, 1.234]],
  ['no peer', [undefined, 'GET', '/x', 200, 0.5]],
  ['no method, no target (a bad request)', ['spiffe://td/a', undefined, undefined, 400, 0]],
  ['quotes and backslashes', ['spiffe://td/"q"', 'GET', '/a"b\\c', 200, 2]],
  ['control characters', ['spiffe://td/a', 'GET', '/a\tb\u0001c\u007f', 200, 2]],
  ['latin1 and unicode', ['spiffe://td/é', 'GET', '/caf\u00e9/\u00ff/\u2028', 200, 3]],
  ['lone surrogate, short', ['spiffe://td/\ud800', 'GET', '/\udc00', 200, 3]],
  ['lone surrogate, long', ['spiffe://td/a', 'GET', `/${'x'.repeat(120)}\ud800`, 200, 3]],
  ['long path, cut', ['spiffe://td/a', 'GET', `/${'"y'.repeat(300)}`, 200, 3]],
  ['path exactly at the limit', ['spiffe://td/a', 'GET', `/${'z'.repeat(PATH_MAX - 1)}`, 200, 3]],
  ['empty strings', ['', '', '', 0, 0]],
  ['odd numbers', ['spiffe://td/a', 'GET', '/', 502, Number.NaN]],
  ['negative zero and large', ['spiffe://td/a', 'GET', '/', -0, 1e21]],
];

describe('accessLine', () => {
  it.each(cases)('writes what pino writes: %s', (_name, args) => {
    const fast = capture();
    const info = vi.spyOn(fast.log, 'info');
    accessLine(fast.log, 'inbound', 'inbound[0]')(...args);
    expect(info).not.toHaveBeenCalled();
    const slow = capture();
    viaPino(slow.log, args);
    expect(fast.lines).toHaveLength(1);
    expect(sameTime(fast.lines[0] as string)).toBe(sameTime(slow.lines[0] as string));
  });

  it('keeps child bindings and its place among the other lines', () => {
    const { log, lines } = capture();
    const child = log.child({ pod: 'a"b' });
    const line = accessLine(child, 'outbound', 'outbound[0]');
    child.info({ event: 'before' });
    line(undefined, 'POST', '/p', 201, 1);
    child.warn({ event: 'after' }, 'w');
    expect(lines.map((l) => JSON.parse(l).event)).toEqual(['before', 'request', 'after']);
    expect(JSON.parse(lines[1] as string)).toMatchObject({ level: 'info', component: 'proxy', pod: 'a"b', direction: 'outbound', listener: 'outbound[0]' });
  });

  it.each(['warn', 'silent'] as const)('writes nothing at level %s, nor after the level drops (EPIPE)', (level) => {
    const { log, lines } = capture(level);
    accessLine(log, 'inbound', 'l')('p', 'GET', '/', 200, 1);
    expect(lines).toEqual([]);
    const on = capture('info');
    const line = accessLine(on.log, 'inbound', 'l');
    on.log.level = 'silent';
    line('p', 'GET', '/', 200, 1);
    expect(on.lines).toEqual([]);
  });

  it('falls back to log.info for a logger it cannot reproduce (mixin)', () => {
    const fast = capture('info', { mixin: () => ({ extra: 1 }) });
    accessLine(fast.log, 'inbound', 'inbound[0]')('p', 'GET', '/', 200, 1);
    const slow = capture('info', { mixin: () => ({ extra: 1 }) });
    viaPino(slow.log, ['p', 'GET', '/', 200, 1]);
    expect(sameTime(fast.lines[0] as string)).toBe(sameTime(slow.lines[0] as string));
    expect(fast.lines[0]).toContain('"extra":1');
  });
});

describe('jsonString', () => {
  it.each(['', 'a', 'a"b', 'a\\b', '\n', '\u2028', 'é', 'x'.repeat(101)])('parses back to %j', (s) => {
    expect(JSON.parse(jsonString(s))).toBe(s);
  });
});

import pino from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { LogBatch } from './log-batch.js';
import { loggerOptions } from './log.js';

type Dest = ConstructorParameters<typeof LogBatch>[0];

function setup() {
  const written: string[] = [];
  const dest = { write: (s: string) => void written.push(s), flushSync: () => {} } as unknown as Dest;
  const batch = new LogBatch(dest);
  const log = pino(loggerOptions('info', 'proxy', () => batch.flush()), batch);
  return { written, batch, log };
}

describe('LogBatch', () => {
  afterEach(() => vi.useRealTimers());

  it('hands lines over in batches of 8 KiB, in order', () => {
    const { written, batch, log } = setup();
    for (let i = 0; i < 100; i++) log.info({ event: 'request', i, pad: 'x'.repeat(100) });
    expect(written.length).toBeGreaterThan(0);
    for (const chunk of written) expect(chunk.length).toBeGreaterThanOrEqual(8192);
    batch.flush();
    const lines = written.join('').trimEnd().split('\n').map((l) => JSON.parse(l).i);
    expect(lines).toEqual([...Array(100).keys()]);
    batch.close(false);
  });

  it('arms its 200 ms timer only while lines wait', () => {
    vi.useFakeTimers();
    const { written, batch, log } = setup();
    expect(vi.getTimerCount()).toBe(0);
    log.info({ event: 'one' });
    log.info({ event: 'two' });
    expect(vi.getTimerCount()).toBe(1);
    expect(written).toEqual([]);
    vi.advanceTimersByTime(200);
    expect(written.join('')).toContain('"two"');
    expect(vi.getTimerCount()).toBe(0);
    batch.close(false);
  });

  it('writes at once after a warning, with what came before it', () => {
    const { written, batch, log } = setup();
    log.info({ event: 'a' });
    expect(written).toEqual([]);
    log.warn({ event: 'b' }, 'w');
    expect(written.join('').trimEnd().split('\n').map((l) => JSON.parse(l).event)).toEqual(['a', 'b']);
    batch.close(false);
  });

  it('writes what is left every 200 ms', () => {
    vi.useFakeTimers();
    const { written, batch, log } = setup();
    log.info({ event: 'a' });
    expect(written).toEqual([]);
    vi.advanceTimersByTime(200);
    expect(written).toHaveLength(1);
    batch.close(false);
  });

  it('close(true) writes what is left; after close nothing reaches the destination', () => {
    const { written, batch, log } = setup();
    log.info({ event: 'a' });
    batch.close(true);
    expect(written).toHaveLength(1);
    log.info({ event: 'b' });
    batch.flush();
    expect(written).toHaveLength(1);
  });
});

import net from 'node:net';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ConnTracker } from './tracker.js';

/** A socket stand-in that records what the tracker asked of it. */
function fakeSocket(): net.Socket & { calls: string[] } {
  const calls: string[] = [];
  const s = new net.Socket() as net.Socket & { calls: string[] };
  s.calls = calls;
  s.end = (() => (calls.push('end'), s)) as typeof s.end;
  s.destroy = (() => (calls.push('destroy'), s)) as typeof s.destroy;
  s.destroySoon = () => void calls.push('destroySoon');
  return s;
}

describe('ConnTracker', () => {
  it('recycling an http connection: the next response says close, an idle one is not cut', () => {
    const t = new ConnTracker();
    const idle = fakeSocket();
    const busy = fakeSocket();
    t.add(idle, 1);
    t.markHttp(idle);
    t.add(busy, 1);
    t.markHttp(busy);
    t.requestStarted(busy);
    expect(t.recycle((g) => g < 2, { closeIdleHttp: false })).toBe(2);
    expect(idle.calls).toEqual([]);
    expect(t.closing(idle)).toBe(true);
    expect(t.requestStarted(idle)).toBe(true);
    t.requestFinished(busy);
    expect(busy.calls).toEqual([]); // Node closes it after the Connection: close response
  });

  it('an expired peer: idle http connections close at once', () => {
    const t = new ConnTracker();
    const s = fakeSocket();
    t.add(s, 1, 1000);
    t.markHttp(s);
    expect(t.recycle((_g, na) => na !== undefined && na <= 2000, { closeIdleHttp: true })).toBe(1);
    expect(s.calls).toEqual(['destroySoon']);
  });

  it('tcp connections are left alone unless a grace is set', () => {
    const t = new ConnTracker();
    const s = fakeSocket();
    t.add(s, 1);
    expect(t.recycle(() => true, { closeIdleHttp: false })).toBe(0);
    expect(t.recycle(() => true, { tcpGraceMs: 60_000, closeIdleHttp: false })).toBe(1);
    expect(t.recycle(() => true, { tcpGraceMs: 60_000, closeIdleHttp: false })).toBe(0);
  });

  it('drain closes idle http now and busy ones after their request; waitEmpty resolves when all are gone', async () => {
    const t = new ConnTracker();
    const idle = fakeSocket();
    const busy = fakeSocket();
    for (const s of [idle, busy]) {
      t.add(s, 1);
      t.markHttp(s);
    }
    t.requestStarted(busy);
    t.closeGracefully();
    expect(idle.calls).toEqual(['destroySoon']);
    expect(busy.calls).toEqual([]);
    t.requestFinished(busy);
    expect(busy.calls).toEqual(['destroySoon']);
    const empty = t.waitEmpty(10_000);
    t.delete(idle);
    t.delete(busy);
    expect(await empty).toBe(true);
    expect(await t.waitEmpty(1)).toBe(true);
  });

  it('drain and recycling end an http stream of a multiplexed connection, which has no destroySoon', () => {
    const t = new ConnTracker();
    const idle = new PassThrough();
    const busy = new PassThrough();
    for (const s of [idle, busy]) {
      t.add(s, 1);
      t.markHttp(s as unknown as net.Socket);
    }
    t.requestStarted(busy as unknown as net.Socket);
    t.closeGracefully();
    expect(idle.writableEnded).toBe(true);
    expect(busy.writableEnded).toBe(false);
    t.requestFinished(busy as unknown as net.Socket);
    expect(busy.writableEnded).toBe(true);
    const expired = new PassThrough();
    t.add(expired, 1, 1000);
    t.markHttp(expired as unknown as net.Socket);
    expect(t.recycle((_g, na) => na !== undefined && na <= 2000, { closeIdleHttp: true })).toBe(1);
    expect(expired.writableEnded).toBe(true);
  });
});

// Idle keep-alive connections to upstreams (peers for outbound, the app for
// inbound), per destination, most recently used first. A socket enters the pool
// only between messages and only if it is still fit (not stale: opened under
// the current identity generation, peer certificate unexpired); it leaves on
// close, on unexpected bytes, or after `idleMs` without use.
import type { Socket } from 'node:net';

export type Dial = (cb: (err: Error | null, socket?: Socket) => void) => void;

export interface PoolOptions {
  /** Idle sockets kept per destination. */
  maxFree?: number;
  /** Idle sockets older than this are closed by the sweep. */
  idleMs?: number;
  /** A socket that must not be reused (certificate rotated or expired). */
  isStale?: (socket: Socket, now: number) => boolean;
}

interface Idle {
  key: string;
  since: number;
}

export class SocketPool {
  private readonly free = new Map<string, Socket[]>();
  private readonly idle = new Map<Socket, Idle>();
  private readonly maxFree: number;
  readonly idleMs: number;
  private destroyed = false;
  /** Sockets closed instead of reused because they were stale. */
  recycled = 0;

  constructor(private readonly o: PoolOptions = {}) {
    this.maxFree = o.maxFree ?? 256;
    this.idleMs = o.idleMs ?? 30_000;
  }

  /** A pooled socket for `key`, or a new one from `dial`. */
  acquire(key: string, dial: Dial, cb: (err: Error | null, socket?: Socket, reused?: boolean) => void): void {
    const list = this.free.get(key);
    while (list && list.length > 0) {
      const s = list.pop()!;
      this.forget(s);
      if (s.destroyed || !s.writable) continue;
      if (this.stale(s)) continue;
      cb(null, s, true);
      return;
    }
    dial(cb);
  }

  /** Back to the pool (the caller has detached its own listeners). */
  release(key: string, s: Socket): void {
    if (this.destroyed || s.destroyed || !s.writable || !s.readable || this.stale(s)) {
      s.destroy();
      return;
    }
    let list = this.free.get(key);
    if (!list) {
      list = [];
      this.free.set(key, list);
    }
    if (list.length >= this.maxFree) {
      s.destroy();
      return;
    }
    list.push(s);
    this.idle.set(s, { key, since: performance.now() });
    s.on('close', onIdleClose);
    s.on('end', onIdleGone);
    s.on('data', onIdleGone);
    s.on('error', onIdleGone);
    (s as PooledSocket)[POOL] = this;
  }

  /** Is `s` unfit for another request? Counts it as recycled when so. */
  stale(s: Socket): boolean {
    if (!this.o.isStale?.(s, Date.now())) return false;
    this.recycled += 1;
    s.destroy();
    return true;
  }

  /** Close idle sockets that became stale; returns how many. */
  dropStale(now: number): number {
    let n = 0;
    for (const s of [...this.idle.keys()]) {
      if (this.o.isStale?.(s, now)) {
        s.destroy();
        n += 1;
      }
    }
    this.recycled += n;
    return n;
  }

  /** Close sockets idle for longer than idleMs. */
  sweep(now = performance.now()): void {
    for (const [s, e] of this.idle) if (now - e.since > this.idleMs) s.destroy();
  }

  closeIdle(): void {
    for (const s of [...this.idle.keys()]) s.destroy();
  }

  destroy(): void {
    this.destroyed = true;
    this.closeIdle();
  }

  get size(): number {
    return this.idle.size;
  }

  /** @internal */
  forget(s: Socket): void {
    const e = this.idle.get(s);
    if (!e) return;
    this.idle.delete(s);
    s.removeListener('close', onIdleClose);
    s.removeListener('end', onIdleGone);
    s.removeListener('data', onIdleGone);
    s.removeListener('error', onIdleGone);
    const list = this.free.get(e.key);
    if (list) {
      const i = list.indexOf(s);
      if (i >= 0) list.splice(i, 1);
      if (list.length === 0) this.free.delete(e.key);
    }
  }
}

const POOL = Symbol('tlsmesh.pool');
type PooledSocket = Socket & { [POOL]?: SocketPool };

function onIdleClose(this: PooledSocket): void {
  this[POOL]?.forget(this);
}

/** An idle pooled socket that ends, errs or sends bytes nobody asked for is closed. */
function onIdleGone(this: PooledSocket): void {
  this[POOL]?.forget(this);
  this.destroy();
}

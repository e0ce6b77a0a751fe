// The open connections of one listener: counted for metrics, walked for
// SIGTERM drain and for recycling when a certificate they rely on rotates or
// expires.
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';

/** A tracked connection: a socket, or a stream of a multiplexed connection (tcp only). */
export type Tracked = Duplex;

interface Entry {
  /** In-flight HTTP requests on this connection (tcp: undefined). */
  inflight?: number;
  /** Recycling: responses from now on say `Connection: close` (Node then closes the connection after them). */
  closeNext?: boolean;
  /** SIGTERM: close as soon as the in-flight requests are done. */
  draining?: boolean;
  /** The credentials generation the connection was authenticated under. */
  generation: number;
  /** notAfter of the peer's certificate (ms), when there is a peer certificate. */
  peerNotAfter?: number;
  /** A tcp close is already scheduled. */
  closing?: boolean;
}

export type RecycleCause = 'identity_rotated' | 'peer_expired';

const FORCE_CLOSE_AFTER_END_MS = 5_000;

export class ConnTracker {
  private readonly conns = new Map<Tracked, Entry>();
  private emptyWaiters: (() => void)[] = [];

  get size(): number {
    return this.conns.size;
  }

  add(socket: Tracked, generation: number, peerNotAfter?: number): void {
    this.conns.set(socket, { generation, peerNotAfter });
  }

  /** The peer became known (outbound tcp: after the dial). */
  setPeer(socket: Socket, peerNotAfter: number | undefined): void {
    const e = this.conns.get(socket);
    if (e) e.peerNotAfter = peerNotAfter;
  }

  delete(socket: Tracked): void {
    if (!this.conns.delete(socket)) return;
    if (this.conns.size === 0) {
      const waiters = this.emptyWaiters;
      this.emptyWaiters = [];
      for (const w of waiters) w();
    }
  }

  has(socket: Socket): boolean {
    return this.conns.has(socket);
  }

  /** A request arrived; true when its response must say `Connection: close`. */
  requestStarted(socket: Socket): boolean {
    const e = this.conns.get(socket);
    if (!e) return false;
    e.inflight = (e.inflight ?? 0) + 1;
    return e.closeNext === true || e.draining === true;
  }

  requestFinished(socket: Socket): void {
    const e = this.conns.get(socket);
    if (!e) return;
    e.inflight = Math.max(0, (e.inflight ?? 1) - 1);
    if (e.draining && e.inflight === 0) closeSoon(socket);
  }

  /** Should responses on this connection say `Connection: close`? */
  closing(socket: Socket): boolean {
    const e = this.conns.get(socket);
    return e !== undefined && (e.closeNext === true || e.draining === true);
  }

  markHttp(socket: Socket): void {
    const e = this.conns.get(socket);
    if (e && e.inflight === undefined) e.inflight = 0;
  }

  /** SIGTERM: http connections close now when idle, else after their in-flight requests; tcp ones are left to finish. */
  closeGracefully(): void {
    for (const [socket, e] of this.conns) {
      if (e.inflight === undefined || e.draining) continue;
      e.draining = true;
      if (e.inflight === 0) closeSoon(socket);
    }
  }

  /**
   * Recycle the connections `pick` selects: http ones answer their next
   * response with `Connection: close` and close after it — an idle one is not
   * closed under a client that may be sending on it at this very moment (the
   * keep-alive race), unless `closeIdleHttp` (its peer is no longer valid
   * anyway); tcp ones are closed after `tcpGraceMs`, or left alone when it is
   * undefined.
   */
  recycle(pick: (generation: number, peerNotAfter: number | undefined) => boolean, o: { tcpGraceMs?: number; closeIdleHttp: boolean }): number {
    let n = 0;
    for (const [socket, e] of this.conns) {
      if (e.closeNext || e.draining || e.closing || !pick(e.generation, e.peerNotAfter)) continue;
      if (e.inflight === undefined) {
        if (o.tcpGraceMs === undefined) continue;
        e.closing = true;
        n += 1;
        const t = setTimeout(() => endThenDestroy(socket), o.tcpGraceMs);
        t.unref();
        continue;
      }
      e.closeNext = true;
      n += 1;
      if (e.inflight === 0 && o.closeIdleHttp) closeSoon(socket);
    }
    return n;
  }

  waitEmpty(timeoutMs: number): Promise<boolean> {
    if (this.conns.size === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.emptyWaiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  destroyAll(): void {
    for (const socket of this.conns.keys()) socket.destroy();
  }
}

/** Close once what is queued is written: a socket's destroySoon, a stream's end (END_STREAM). */
function closeSoon(s: Tracked): void {
  const soon = (s as Partial<Socket>).destroySoon;
  if (soon) soon.call(s);
  else s.end();
}

function endThenDestroy(socket: Tracked): void {
  socket.end();
  const t = setTimeout(() => socket.destroy(), FORCE_CLOSE_AFTER_END_MS);
  t.unref();
  socket.once('close', () => clearTimeout(t));
}

// The open connections of one listener: counted for metrics, walked for
// SIGTERM drain and certificate recycling.
import type { Socket } from 'node:net';

interface Entry {
  /** In-flight HTTP requests on this connection (tcp: undefined). */
  inflight?: number;
  /** Close after the in-flight requests finish (drain, recycling). */
  closeWhenIdle?: boolean;
  generation: number;
}

export class ConnTracker {
  private readonly conns = new Map<Socket, Entry>();
  private emptyWaiters: (() => void)[] = [];

  get size(): number {
    return this.conns.size;
  }

  add(socket: Socket, generation: number): void {
    this.conns.set(socket, { generation });
  }

  delete(socket: Socket): void {
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

  requestStarted(socket: Socket): boolean {
    const e = this.conns.get(socket);
    if (!e) return false;
    e.inflight = (e.inflight ?? 0) + 1;
    return e.closeWhenIdle === true;
  }

  requestFinished(socket: Socket): void {
    const e = this.conns.get(socket);
    if (!e) return;
    e.inflight = Math.max(0, (e.inflight ?? 1) - 1);
    if (e.closeWhenIdle && e.inflight === 0) socket.end();
  }

  /** Should responses on this connection say `Connection: close`? */
  closing(socket: Socket): boolean {
    return this.conns.get(socket)?.closeWhenIdle === true;
  }

  /**
   * Ask connections to finish: http ones close now when idle, else after their
   * in-flight requests; tcp ones are left to end by themselves unless `tcpToo`.
   * `filter` picks connections (e.g. those of an older generation).
   */
  closeGracefully(filter: (generation: number) => boolean = () => true, tcpToo = false): number {
    let n = 0;
    for (const [socket, e] of this.conns) {
      if (!filter(e.generation) || e.closeWhenIdle) continue;
      if (e.inflight === undefined) {
        if (tcpToo) {
          socket.end();
          n += 1;
        }
        continue;
      }
      e.closeWhenIdle = true;
      n += 1;
      if (e.inflight === 0) socket.end();
    }
    return n;
  }

  markHttp(socket: Socket): void {
    const e = this.conns.get(socket);
    if (e && e.inflight === undefined) e.inflight = 0;
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

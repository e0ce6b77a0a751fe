// The http listeners' forwarding engine: HTTP/1.1 between an accepted
// (already authenticated) connection and a kept-alive upstream connection,
// forwarding bytes as they come and parsing only message heads and framing.
// One request at a time per connection (pipelined requests wait their turn);
// the upstream connection stays with the client connection while it lives and
// returns to the pool when it closes, so keep-alive costs no new connection and
// an app opening a connection per request still reuses pooled peer connections.
//
// Connection is hop-by-hop: the client's `Connection: close` ends the client
// connection after its response, not the upstream one; the upstream's own
// `Connection: close` ends only the upstream. Requests are counted and logged
// like the node:http front (http/front.ts) does, and the tracker's drain and
// recycling work the same way: `Connection: close` on the next response.
//
// The pieces: one connection is conn.ts (requests, lifecycle) on response.ts
// (responses) on flow.ts (shared state, byte flow); heads.ts writes heads and
// our own answers; parse.ts and chunked.ts read the framing; pool.ts keeps idle
// upstream connections.
import type { Socket } from 'node:net';
import type { RequestRecorder } from '../request-record.js';
import type { ConnTracker } from '../../net/tracker.js';
import { H1Conn } from './conn.js';
import type { H1Flow } from './flow.js';
import type { RequestHead } from './parse.js';
import type { Dial, SocketPool } from './pool.js';

export interface Route {
  /** Pool key: one destination. */
  key: string;
  /** For logs and errors. */
  url: string;
  dial: Dial;
  pool: SocketPool;
  /**
   * Where a client connection that moves large bodies sends its requests
   * from then on, when that is not `dial` (outbound: its own mTLS connection
   * instead of a stream of the peer's multiplexed one, which costs more CPU
   * per byte and would queue small requests behind the bulk). Pooled under `key`.
   */
  bulk?: { key: string; dial: Dial };
}

export interface EngineOptions extends RequestRecorder {
  tracker: ConnTracker;
  /** Header names (lowercase) removed from requests, and lines added (each ending in CRLF). */
  rewrite?: {
    drop: ReadonlySet<string>;
    add: (down: Socket, head: RequestHead) => string;
  };
  /**
   * Header lines (each ending in CRLF) on every answer, the engine's own errors
   * included, replacing any the upstream sent under `drop` (offload HSTS).
   */
  responseHeaders?: { drop: ReadonlySet<string>; add: string };
  keepAliveTimeoutMs?: number;
  headersTimeoutMs?: number;
}

const SWEEP_MS = 1000;

export class H1Engine {
  readonly conns = new Set<H1Flow>();
  private readonly pools = new Set<SocketPool>();
  private timer: NodeJS.Timeout | undefined;
  readonly keepAliveTimeoutMs: number;
  readonly headersTimeoutMs: number;

  constructor(readonly o: EngineOptions) {
    this.keepAliveTimeoutMs = o.keepAliveTimeoutMs ?? 60_000;
    this.headersTimeoutMs = o.headersTimeoutMs ?? 30_000;
  }

  /** Serve HTTP on an accepted connection, forwarding to `route`. */
  serve(down: Socket, route: Route): void {
    this.pools.add(route.pool);
    const c = new H1Conn(this, down, route);
    this.conns.add(c);
    if (!this.timer) {
      this.timer = setInterval(() => this.sweep(), SWEEP_MS);
      this.timer.unref();
    }
  }

  /** @internal */
  forget(c: H1Flow): void {
    this.conns.delete(c);
    if (this.conns.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  private sweep(): void {
    const now = performance.now();
    for (const c of this.conns) c.sweep(now);
    for (const p of this.pools) p.sweep(now);
  }
}

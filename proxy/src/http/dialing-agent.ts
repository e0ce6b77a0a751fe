// A keep-alive https.Agent whose connections come from our dialer: the socket
// joins the pool only after the peer passed every check, so no request byte
// ever reaches a refused peer.
import https from 'node:https';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import type { DialTarget, MtlsDialer } from '../outbound/dialer.js';

export interface DialingAgentOptions {
  servername?: string;
  alpn?: string[];
  maxFreeSockets?: number;
}

export class DialingAgent extends https.Agent {
  /** Sockets dropped because their certificates rotated or expired. */
  recycled = 0;

  constructor(
    private readonly dialer: MtlsDialer,
    private readonly opts: DialingAgentOptions = {},
  ) {
    super({ keepAlive: true, maxFreeSockets: opts.maxFreeSockets ?? 256, scheduling: 'lifo' });
  }

  /** Called by Node when a request finished: a stale socket is closed instead of pooled. */
  override keepSocketAlive(socket: Duplex): boolean {
    if (this.dialer.isStale(socket as TLSSocket, Date.now())) {
      this.recycled += 1;
      return false;
    }
    // Node's Agent returns true (keep) or false; @types/node declares void.
    return (super.keepSocketAlive(socket as Parameters<https.Agent['keepSocketAlive']>[0]) as unknown as boolean) !== false;
  }

  /** Close idle pooled sockets that are stale (client side: no race with a request in flight). */
  dropStale(now: number): number {
    let n = 0;
    for (const sockets of Object.values(this.freeSockets)) {
      for (const s of sockets ?? []) {
        if (this.dialer.isStale(s as TLSSocket, now)) {
          s.destroy();
          n += 1;
        }
      }
    }
    this.recycled += n;
    return n;
  }

  // Node's Agent supports the callback form: return nothing, call back later.
  override createConnection(options: https.RequestOptions, cb?: (err: Error | null, stream: Duplex) => void): Duplex | null | undefined {
    const target: DialTarget = {
      host: options.host ?? '127.0.0.1',
      port: Number(options.port),
      servername: this.opts.servername,
      alpn: this.opts.alpn,
    };
    this.dialer.dial(target, (err, socket) => cb?.(err, socket as Duplex));
    return undefined;
  }
}

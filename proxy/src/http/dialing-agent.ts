// A keep-alive https.Agent whose connections come from our dialer: the socket
// joins the pool only after the peer passed every check, so no request byte
// ever reaches a refused peer.
import https from 'node:https';
import type { Duplex } from 'node:stream';
import type { DialTarget, MtlsDialer } from '../outbound/dialer.js';

export interface DialingAgentOptions {
  servername?: string;
  alpn?: string[];
  maxFreeSockets?: number;
}

export class DialingAgent extends https.Agent {
  constructor(
    private readonly dialer: MtlsDialer,
    private readonly opts: DialingAgentOptions = {},
  ) {
    super({ keepAlive: true, maxFreeSockets: opts.maxFreeSockets ?? 256, scheduling: 'lifo' });
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

// The plaintext side of an offload listener: every request is answered with a
// 308 to the same host and path over https (SSL-stripping defence together with
// HSTS), except ACME HTTP-01 challenges of this listener, which are answered
// from memory. Nothing is ever forwarded to the app.
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isIPv4, isIPv6 } from 'node:net';
import type { RedirectConfig } from '../config/offload.js';
import type { DeepReadonly } from '../config/load.js';
import type { HostPort } from '../config/index.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { send } from '../admin/server.js';
import { listenOn } from '../net/listen.js';

export const CHALLENGE_PREFIX = '/.well-known/acme-challenge/';
const HOSTNAME = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

/** Answers for the HTTP-01 tokens currently being validated (token -> key authorization). */
export class Http01Challenges {
  private readonly tokens = new Map<string, string>();
  set(token: string, keyAuthorization: string): void {
    this.tokens.set(token, keyAuthorization);
  }
  delete(token: string): void {
    this.tokens.delete(token);
  }
  get(token: string): string | undefined {
    return this.tokens.get(token);
  }
}

/** The https Location for a plaintext request, or undefined when the Host header is unusable. Pure. */
export function redirectLocation(host: string | undefined, url: string | undefined, httpsPort: number): string | undefined {
  if (!host) return undefined;
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(host.trim());
  if (!m) return undefined;
  let name = m[1]!.toLowerCase();
  if (name.endsWith('.')) name = name.slice(0, -1);
  const bracketed = name.startsWith('[');
  if (bracketed ? !isIPv6(name.slice(1, -1)) : !isIPv4(name) && !HOSTNAME.test(name)) return undefined;
  let path = url ?? '/';
  if (!path.startsWith('/')) {
    // absolute-form (a proxy-style request line): keep only its path and query
    try {
      const u = new URL(path);
      path = `${u.pathname}${u.search}`;
    } catch {
      return undefined;
    }
  }
  if (path.startsWith('//')) path = `/${path.replace(/^\/+/, '')}`;
  return `https://${name}${httpsPort === 443 ? '' : `:${httpsPort}`}${path}`;
}

export interface RedirectListenerOptions {
  cfg: DeepReadonly<RedirectConfig>;
  field: string;
  listener: string;
  /** Present when this listener obtains certificates with ACME. */
  challenges?: Http01Challenges;
  metrics: Metrics;
  log: Logger;
}

export class RedirectListener {
  private readonly server: http.Server;

  constructor(private readonly o: RedirectListenerOptions) {
    this.server = http.createServer({ requestTimeout: 30_000, headersTimeout: 15_000, keepAliveTimeout: 5_000 }, (req, res) => this.answer(req, res));
    this.server.on('clientError', (_err, socket) => socket.destroy());
  }

  listen(): Promise<void> {
    return listenOn(this.server, this.o.cfg.listen, `${this.o.field}.redirect.listen`);
  }

  address(): HostPort {
    const a = this.server.address() as AddressInfo;
    return { host: a.address, port: a.port };
  }

  close(): void {
    this.server.close();
    this.server.closeAllConnections();
  }

  private count(result: 'redirect' | 'acme_challenge' | 'not_found' | 'bad_request'): void {
    this.o.metrics.redirects.labels(this.o.listener, result).inc();
  }

  private answer(req: IncomingMessage, res: ServerResponse): void {
    req.resume(); // a body is never read, never forwarded
    const url = req.url ?? '/';
    if (this.o.challenges && url.startsWith(CHALLENGE_PREFIX)) {
      const token = url.slice(CHALLENGE_PREFIX.length);
      const keyAuthorization = this.o.challenges.get(token);
      this.o.log.info({ event: 'acme_challenge_request', listener: this.o.listener, known: keyAuthorization !== undefined, remote: req.socket.remoteAddress }, 'ACME HTTP-01 challenge request');
      if (keyAuthorization !== undefined && (req.method === 'GET' || req.method === 'HEAD')) {
        this.count('acme_challenge');
        return send(res, 200, keyAuthorization, { 'content-type': 'application/octet-stream', 'cache-control': 'no-store' });
      }
      this.count('not_found');
      return send(res, 404, 'unknown challenge\n', { 'cache-control': 'no-store' });
    }
    const location = redirectLocation(req.headers.host, url, this.o.cfg.httpsPort);
    if (!location) {
      this.count('bad_request');
      return send(res, 400, 'missing or invalid Host header\n', { connection: 'close' });
    }
    this.count('redirect');
    send(res, 308, `redirecting to ${location}\n`, { location });
  }
}

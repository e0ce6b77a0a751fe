// The admin listener: health, metrics, certificate status. Plain HTTP on
// localhost (kubelet probes and Prometheus scrapes reach it through the pod IP
// only where the injector exposes it).
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { HostPort } from '../config/index.js';
import type { Metrics } from '../metrics.js';
import type { CredentialStore } from '../identity/credential-store.js';
import { listenOn } from '../net/listen.js';
import { certsDocument } from './certs.js';
import { mergedMetrics } from './app-metrics.js';

export type AdminHandler = (req: IncomingMessage, res: ServerResponse, path: string) => void;

export interface AdminOptions {
  listen: HostPort;
  metrics: Metrics;
  store: CredentialStore;
  appMetrics?: string;
  ready: () => { ready: boolean; why?: string };
  clock: () => number;
  /** Extra routes by path prefix (e.g. `/app-health/`). */
  prefixRoutes?: Record<string, AdminHandler>;
}

export class AdminServer {
  private readonly server: http.Server;

  constructor(private readonly o: AdminOptions) {
    this.server = http.createServer((req, res) => {
      this.route(req, res).catch((err: Error) => {
        if (!res.headersSent) send(res, 500, `internal error: ${err.message}\n`);
      });
    });
    this.server.keepAliveTimeout = 30_000;
  }

  listen(): Promise<void> {
    return listenOn(this.server, this.o.listen, 'admin.listen');
  }

  close(): void {
    this.server.close();
    this.server.closeAllConnections();
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0]!;
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'method not allowed\n', { allow: 'GET, HEAD' });
    switch (path) {
      case '/healthz/live':
        return send(res, 200, 'live\n');
      case '/healthz/ready': {
        const r = this.o.ready();
        return r.ready ? send(res, 200, 'ready\n') : send(res, 503, `not ready: ${r.why}\n`);
      }
      case '/metrics':
        return send(res, 200, await this.o.metrics.registry.metrics(), { 'content-type': this.o.metrics.registry.contentType });
      case '/stats/prometheus': {
        const own = await this.o.metrics.registry.metrics();
        return send(res, 200, await mergedMetrics(own, this.o.appMetrics, this.o.metrics), { 'content-type': this.o.metrics.registry.contentType });
      }
      case '/certs': {
        const doc = certsDocument(this.o.store, this.o.clock());
        return send(res, doc.status, `${JSON.stringify(doc.body, null, 2)}\n`, { 'content-type': 'application/json' });
      }
      default:
        for (const [prefix, handler] of Object.entries(this.o.prefixRoutes ?? {})) {
          if (path.startsWith(prefix)) return handler(req, res, path);
        }
        return send(res, 404, 'not found\n');
    }
  }
}

export function send(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body), ...headers });
  res.end(res.req?.method === 'HEAD' ? undefined : body);
}

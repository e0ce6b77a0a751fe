// The webhook's HTTPS shell: routes, body limits, content type, timing and
// metrics around answerReview. Nothing here decides anything about pods.
//
//   POST /inject          namespaces labelled tlsmesh.io/inject=enabled
//   POST /inject/opt-in   other namespaces: only pods annotated tlsmesh.io/inject: "true"
//   GET  /healthz         200 ok
//   GET  /metrics         Prometheus text format (the injector's own registry)
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { InjectorConfig } from './config.js';
import { AdmissionError } from './errors.js';
import type { ErrorReason, InjectorMetrics } from './metrics.js';
import type { ServingCredentials } from './serving-tls.js';
import { answerReview, type Scope } from './webhook.js';

const ROUTES: Record<string, { method: string; scope?: Scope }> = {
  '/inject': { method: 'POST', scope: 'namespace' },
  '/inject/opt-in': { method: 'POST', scope: 'opt-in' },
  '/healthz': { method: 'GET' },
  '/metrics': { method: 'GET' },
};

export interface InjectorServer {
  readonly server: Server;
  address(): AddressInfo;
  /** Use new serving credentials for new handshakes. */
  setCredentials(creds: ServingCredentials): void;
  close(): Promise<void>;
}

export interface ServerOptions {
  config: InjectorConfig;
  credentials: ServingCredentials;
  metrics: InjectorMetrics;
  logger: Logger;
}

export async function startInjectorServer(opts: ServerOptions): Promise<InjectorServer> {
  const { config, metrics, logger } = opts;
  const server = createServer({ cert: opts.credentials.cert, key: opts.credentials.key, minVersion: 'TLSv1.2' }, (req, res) => {
    const started = process.hrtime.bigint();
    res.on('finish', () => metrics.duration.observe(Number(process.hrtime.bigint() - started) / 1e9));
    handle(req, res, opts).catch((err: unknown) => {
      metrics.errors.inc({ reason: 'internal' });
      logger.error({ err }, 'review failed');
      if (!res.headersSent) fail(res, 500, 'internal error: the injector could not answer');
      else res.destroy();
    });
  });
  metrics.tlsExpiry.set(opts.credentials.notAfter.getTime() / 1000);
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.keepAliveTimeout = 30_000;
  server.on('tlsClientError', (err) => logger.debug({ err: err.message }, 'TLS handshake failed'));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.listen.port, config.listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    server,
    address: () => server.address() as AddressInfo,
    setCredentials(creds) {
      server.setSecureContext({ cert: creds.cert, key: creds.key, minVersion: 'TLSv1.2' });
      metrics.tlsExpiry.set(creds.notAfter.getTime() / 1000);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}

async function handle(req: IncomingMessage, res: ServerResponse, opts: ServerOptions): Promise<void> {
  const { metrics, config, logger } = opts;
  const path = (req.url ?? '/').split('?')[0]!;
  const route = ROUTES[path];
  const refuse = (status: number, reason: ErrorReason, message: string, headers: Record<string, string> = {}) => {
    metrics.errors.inc({ reason });
    logger.debug({ status, reason, path }, message);
    fail(res, status, message, headers);
  };
  if (!route) return refuse(404, 'not_found', `not found: ${path} (the webhook answers POST /inject)`);
  if (req.method !== route.method) return refuse(405, 'bad_method', `method ${req.method ?? ''} not allowed on ${path}: use ${route.method}`, { allow: route.method });
  if (path === '/healthz') return send(res, 200, 'text/plain; charset=utf-8', 'ok\n');
  if (path === '/metrics') return send(res, 200, metrics.registry.contentType, await metrics.registry.metrics());

  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') {
    req.resume();
    return refuse(415, 'unsupported_media_type', `content-type: expected application/json, got ${type ? JSON.stringify(type) : 'none'}`);
  }
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (declared > config.maxRequestBytes) {
    req.resume();
    return refuse(413, 'too_large', `request body of ${declared} bytes is larger than the ${config.maxRequestBytes} bytes allowed`, { connection: 'close' });
  }
  const body = await readBody(req, config.maxRequestBytes);
  if (body === undefined) return refuse(413, 'too_large', `request body is larger than the ${config.maxRequestBytes} bytes allowed`, { connection: 'close' });
  try {
    const result = answerReview(body, route.scope!, config, metrics);
    logger[result.outcome === 'denied' ? 'warn' : 'debug']({ outcome: result.outcome }, result.detail);
    send(res, 200, 'application/json', result.body);
  } catch (err) {
    if (!(err instanceof AdmissionError)) throw err;
    refuse(err.status, err.reason, err.message);
  }
}

/** The body, or undefined once it passes `limit` (the rest is discarded). */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (chunk: Buffer) => {
      if (over) return;
      size += chunk.length;
      if (size > limit) {
        over = true;
        chunks.length = 0;
        resolve(undefined);
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!over) resolve(Buffer.concat(chunks, size));
    });
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** A 4xx/5xx with a one-line reason. */
function fail(res: ServerResponse, status: number, message: string, headers: Record<string, string> = {}): void {
  const body = `${message.replace(/\s*\n\s*/g, ' ')}\n`;
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

// /app-health/<container>/<livez|readyz|startupz>: the app's own kubelet
// probes, run by the sidecar against the app on localhost. The injector moved
// them here (docs/injector.md, Probes) because kubelet, having no certificate,
// cannot pass the sidecar's mTLS; admin.appProbes holds the originals.
//
// Kubelet's rules: httpGet succeeds on a status from 200 to 399 (redirects are
// not followed, the app's certificate is not verified); tcpSocket succeeds when
// the connection opens. Both fail after timeoutSeconds.
import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import type { AppProbeConfig } from '../config/schema.js';

export const APP_HEALTH_PREFIX = '/app-health/';

export type AppHealthHandler = (req: IncomingMessage, res: ServerResponse, path: string) => void;

export interface ProbeResult {
  ok: boolean;
  /** What the sidecar answers kubelet: 200 on success, the app's status when it is 400 or more, else 503. */
  status: number;
  /** One line for the body and the logs. */
  detail: string;
}

export function createAppHealthHandler(probes: Readonly<Record<string, AppProbeConfig>>, host = '127.0.0.1'): AppHealthHandler {
  return (req, res, path) => {
    const key = path.startsWith(APP_HEALTH_PREFIX) ? path.slice(APP_HEALTH_PREFIX.length) : '';
    const probe = Object.prototype.hasOwnProperty.call(probes, key) ? probes[key] : undefined;
    if (!probe) return reply(res, 404, `no app probe ${JSON.stringify(key)}`);
    if (req.method !== 'GET' && req.method !== 'HEAD') return reply(res, 405, 'use GET', { allow: 'GET, HEAD' });
    void runProbe(probe, host, req.headers['user-agent']).then((r) => reply(res, r.status, r.detail, {}, req.method === 'HEAD'));
  };
}

export function runProbe(probe: AppProbeConfig, host = '127.0.0.1', userAgent?: string): Promise<ProbeResult> {
  const timeoutMs = Math.max(1, Math.round(probe.timeoutSeconds * 1000));
  if (probe.tcpSocket) return tcpProbe(host, probe.tcpSocket.port, timeoutMs);
  return httpProbe(host, probe.httpGet!, timeoutMs, userAgent);
}

function httpProbe(host: string, get: NonNullable<AppProbeConfig['httpGet']>, timeoutMs: number, userAgent?: string): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const headers: Record<string, string> = { 'user-agent': userAgent ?? 'kube-probe/tlsmesh', accept: '*/*' };
    for (const h of get.httpHeaders) headers[h.name.toLowerCase()] = h.value;
    const send = get.scheme === 'HTTPS' ? httpsRequest : httpRequest;
    let done = false;
    const finish = (r: ProbeResult) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      req.destroy();
      resolve(r);
    };
    const req = send({ host, port: get.port, path: get.path, method: 'GET', headers, agent: false, rejectUnauthorized: false }, (res) => {
      const code = res.statusCode ?? 0;
      res.destroy();
      if (code >= 200 && code < 400) finish({ ok: true, status: 200, detail: `app answered ${code}` });
      else finish({ ok: false, status: code >= 400 && code < 600 ? code : 503, detail: `app answered ${code}` });
    });
    const timer = setTimeout(() => finish({ ok: false, status: 503, detail: `no answer from the app within ${timeoutMs} ms` }), timeoutMs);
    req.on('error', (err: NodeJS.ErrnoException) => finish({ ok: false, status: 503, detail: `app unreachable: ${err.code ?? err.message}` }));
    req.end();
  });
}

function tcpProbe(host: string, port: number, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const finish = (r: ProbeResult) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => finish({ ok: false, status: 503, detail: `no connection to port ${port} within ${timeoutMs} ms` }), timeoutMs);
    socket.once('connect', () => finish({ ok: true, status: 200, detail: `port ${port} open` }));
    socket.once('error', (err: NodeJS.ErrnoException) => finish({ ok: false, status: 503, detail: `port ${port}: ${err.code ?? err.message}` }));
  });
}

function reply(res: ServerResponse, status: number, detail: string, headers: Record<string, string> = {}, head = false): void {
  const body = `${detail}\n`;
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body), ...headers });
  res.end(head ? undefined : body);
}

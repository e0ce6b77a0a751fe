// /app-health/<container>/<livez|readyz|startupz>: the app's own kubelet
// probes, run by the sidecar against the app on localhost. The injector moved
// them here (docs/injector.md, Probes) because kubelet, having no certificate,
// cannot pass the sidecar's mTLS; admin.appProbes holds the originals.
//
// Kubelet's rules: httpGet succeeds on a status from 200 to 399 (redirects are
// not followed, the app's certificate is not verified); tcpSocket succeeds when
// the connection opens; grpc succeeds when grpc.health.v1.Health/Check answers
// SERVING (plaintext HTTP/2, as kubelet). All fail after timeoutSeconds.
import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import type { DeepReadonly } from '../config/load.js';
import type { AppProbeConfig as MutableAppProbeConfig } from '../config/schema.js';
import { http2 } from '../lazy-builtins.js';

type AppProbeConfig = DeepReadonly<MutableAppProbeConfig>;

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
  if (probe.grpc) return grpcProbe(host, probe.grpc.port, probe.grpc.service, timeoutMs);
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

const SERVING_STATUS = ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'];

/**
 * grpc.health.v1.Health/Check over h2c. The request is a HealthCheckRequest
 * (field 1, string `service`), the answer a HealthCheckResponse (field 1, enum
 * status), each behind gRPC's 5-byte length prefix; grpc-status comes in the trailers.
 */
function grpcProbe(host: string, port: number, service: string, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const authority = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
    const session = http2().connect(authority);
    let done = false;
    const finish = (r: ProbeResult) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      session.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => finish({ ok: false, status: 503, detail: `no gRPC health answer within ${timeoutMs} ms` }), timeoutMs);
    session.on('error', (err: NodeJS.ErrnoException) => finish({ ok: false, status: 503, detail: `app unreachable: ${err.code ?? err.message}` }));
    const name = Buffer.from(service, 'utf8');
    const message = name.length ? Buffer.concat([Buffer.from([0x0a]), varint(name.length), name]) : Buffer.alloc(0);
    const frame = Buffer.alloc(5 + message.length);
    frame.writeUInt32BE(message.length, 1);
    message.copy(frame, 5);
    const req = session.request({ ':method': 'POST', ':path': '/grpc.health.v1.Health/Check', 'content-type': 'application/grpc', te: 'trailers', 'user-agent': 'kube-probe/tlsmesh' });
    const chunks: Buffer[] = [];
    let grpcStatus: string | undefined;
    req.on('response', (headers) => {
      if (headers['grpc-status'] !== undefined) grpcStatus = String(headers['grpc-status']);
    });
    req.on('trailers', (trailers) => {
      if (trailers['grpc-status'] !== undefined) grpcStatus = String(trailers['grpc-status']);
    });
    req.on('data', (d: Buffer) => chunks.push(d));
    req.on('error', (err: NodeJS.ErrnoException) => finish({ ok: false, status: 503, detail: `gRPC health check failed: ${err.code ?? err.message}` }));
    req.on('end', () => {
      if (grpcStatus !== '0') return finish({ ok: false, status: 503, detail: `gRPC health check answered grpc-status ${grpcStatus ?? 'none'}` });
      const status = healthStatus(Buffer.concat(chunks));
      const word = status === undefined ? 'an unreadable answer' : (SERVING_STATUS[status] ?? `status ${status}`);
      finish(status === 1 ? { ok: true, status: 200, detail: 'gRPC health SERVING' } : { ok: false, status: 503, detail: `gRPC health ${word}` });
    });
    req.end(frame);
  });
}

function varint(n: number): Buffer {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return Buffer.from(out);
}

/** The status field of a length-prefixed HealthCheckResponse; 0 (UNKNOWN) when absent, as protobuf defaults. */
function healthStatus(body: Buffer): number | undefined {
  if (body.length < 5 || body[0] !== 0) return undefined;
  const msg = body.subarray(5, 5 + body.readUInt32BE(1));
  let status = 0;
  for (let i = 0; i < msg.length; ) {
    const tag = msg[i++]!;
    if (tag === 0x08) {
      let v = 0;
      let shift = 0;
      while (i < msg.length) {
        const b = msg[i++]!;
        v |= (b & 0x7f) << shift;
        shift += 7;
        if (!(b & 0x80)) break;
      }
      status = v;
    } else {
      return undefined; // HealthCheckResponse has one field
    }
  }
  return status;
}

function reply(res: ServerResponse, status: number, detail: string, headers: Record<string, string> = {}, head = false): void {
  const body = `${detail}\n`;
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body), ...headers });
  res.end(head ? undefined : body);
}

// The HTTP side of an http listener: an http.Server fed sockets we already
// accepted (and authenticated), counting requests, logging one line each, and
// honouring drain/recycling with `Connection: close`.
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { recordRequest, type RequestRecorder } from './request-record.js';
import type { ConnTracker } from '../net/tracker.js';

export interface HttpFrontOptions extends RequestRecorder {
  tracker: ConnTracker;
  clock: () => number;
  handle: (req: IncomingMessage, res: ServerResponse) => void;
  upgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
  /** A ServerResponse subclass (offload HSTS adds its header when the head is written). */
  responseClass?: typeof http.ServerResponse;
}

export function createHttpFront(o: HttpFrontOptions): http.Server {
  const server = http.createServer({ keepAliveTimeout: 60_000, requestTimeout: 0, headersTimeout: 30_000, ...(o.responseClass ? { ServerResponse: o.responseClass } : {}) }, (req, res) => {
    const socket = req.socket;
    const started = process.hrtime.bigint();
    if (o.tracker.requestStarted(socket)) res.shouldKeepAlive = false;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      o.tracker.requestFinished(socket);
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const code = res.headersSent ? res.statusCode : 0;
      recordRequest(o, socket, req.method, req.url, code, seconds);
    };
    res.once('finish', finish);
    res.once('close', finish);
    o.handle(req, res);
  });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => o.upgrade(req, socket, head));
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 12\r\n\r\nbad request\n');
  });
  return server;
}

/** A short plain-text error answer, unless the response has already started. */
export function sendError(res: ServerResponse, code: number, body: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(code, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body) + 1, connection: 'close' });
  res.end(`${body}\n`);
}

// The heads the h1 engine writes itself: a request head as it leaves for the
// upstream (hop-by-hop Connection headers and the listener's replaced headers
// removed, its own added), a response head as it leaves for the client (with
// exactly the Connection the client must read), and the engine's own short
// answers. No state: heads and buffers in, a buffer or string out. When nothing
// changes, the bytes that came are passed on as they are (a subarray).
import type { Socket } from 'node:net';
import type { EngineOptions } from './engine.js';
import type { RequestHead, ResponseHead } from './parse.js';

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  408: 'Request Timeout',
  431: 'Request Header Fields Too Large',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  505: 'HTTP Version Not Supported',
};

export type ErrorStatus = 400 | 408 | 431 | 501 | 505 | 502;

/** The head as sent upstream: hop-by-hop Connection headers and `rw.drop` removed, `rw.add` added. */
export function requestHeadOut(head: RequestHead, buf: Buffer, headLength: number, rw: EngineOptions['rewrite'], down: Socket): Buffer {
  // Keep Connection on an upgrade (it names `upgrade`); drop it otherwise so
  // that the upstream connection outlives a client that asked to close.
  const dropHop = head.hopByHop && !head.upgrade;
  let dropping = dropHop;
  if (rw && !dropping) for (const n of head.names) if (rw.drop.has(n)) dropping = true;
  const added = rw ? rw.add(down, head) : '';
  if (!dropping && added === '') return buf.subarray(0, headLength);
  let s = `${head.line}\r\n`;
  for (let i = 0; i < head.names.length; i++) {
    const n = head.names[i]!;
    if (dropHop && (n === 'connection' || n === 'keep-alive' || n === 'proxy-connection')) continue;
    if (rw?.drop.has(n)) continue;
    s += `${head.lines[i]}\r\n`;
  }
  // An HTTP/1.0 client's request keeps the upstream connection alive too.
  if (dropHop && head.minor === 0) s += 'connection: keep-alive\r\n';
  s += `${added}\r\n`;
  return Buffer.from(s, 'latin1');
}

/**
 * The head as sent to the client, who must read "close" exactly when we close
 * after this response (`wantClose`); `requestMinor` is the request's HTTP/1.x
 * minor version; `extra` the listener's own response headers (offload HSTS).
 */
export function responseHeadOut(res: ResponseHead, buf: Buffer, headLength: number, wantClose: boolean, requestMinor: 0 | 1, extra: EngineOptions['responseHeaders']): Buffer {
  const rewrite = extra !== undefined || (wantClose ? !res.closeToken : res.closeToken || (requestMinor === 0 && !res.keepAliveToken));
  if (!rewrite) return buf.subarray(0, headLength);
  let s = `${res.line}\r\n`;
  for (let i = 0; i < res.names.length; i++) {
    const n = res.names[i]!;
    if (n === 'connection' || n === 'keep-alive' || extra?.drop.has(n)) continue;
    s += `${res.lines[i]}\r\n`;
  }
  if (extra) s += extra.add;
  if (wantClose) s += 'connection: close\r\n';
  else if (requestMinor === 0) s += 'connection: keep-alive\r\n';
  s += '\r\n';
  return Buffer.from(s, 'latin1');
}

/** A short plain-text answer that ends the connection (the node:http front's sendError). */
export function errorAnswer(code: number, body: string, extraHeaders: string): string {
  const text = `${body}\n`;
  return `HTTP/1.1 ${code} ${STATUS_TEXT[code] ?? 'Error'}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(text)}\r\n${extraHeaders}connection: close\r\n\r\n${text}`;
}

/** The answer to a request we cannot forward (the node:http front's clientError). */
export function rejectAnswer(code: ErrorStatus, extraHeaders: string): string {
  const body = code === 400 ? 'bad request\n' : `${STATUS_TEXT[code]!.toLowerCase()}\n`;
  return `HTTP/1.1 ${code} ${STATUS_TEXT[code]}\r\n${extraHeaders}Connection: close\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
}

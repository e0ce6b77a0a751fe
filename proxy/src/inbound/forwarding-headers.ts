// The headers inbound http adds to each request for the app: the peer's
// identity (x-forwarded-client-cert, Envoy's format: ours always replaces the
// client's) and X-Forwarded-For/-Port/-Proto/-Host as http-proxy's xfwd writes
// them. The h1 engine takes them as header lines; the node:http front path
// sets the identity on the request and lets http-proxy write the rest.
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { RequestHead } from '../http/h1/parse.js';

/** Request headers the inbound h1 engine replaces (identity and forwarding). */
export const FORWARDING_HEADERS: ReadonlySet<string> = new Set(['x-forwarded-client-cert', 'x-forwarded-for', 'x-forwarded-port', 'x-forwarded-proto']);

/** h1 engine: the header lines (each ending in CRLF) that replace FORWARDING_HEADERS. */
export function forwardingHeaders(down: Socket, head: RequestHead, xfcc: string | undefined): string {
  const encrypted = (down as TLSSocket).encrypted === true;
  let host: string | undefined;
  let hasForwardedHost = false;
  for (let i = 0; i < head.names.length; i++) {
    if (head.names[i] === 'host') host ??= head.values[i];
    else if (head.names[i] === 'x-forwarded-host') hasForwardedHost = true;
  }
  const port = host ? /:(\d+)/.exec(host)?.[1] : undefined;
  let s = xfcc ? `x-forwarded-client-cert: ${xfcc}\r\n` : '';
  s += appendForwarded(head, 'x-forwarded-for', down.remoteAddress ?? '');
  s += appendForwarded(head, 'x-forwarded-port', port ?? (encrypted ? '443' : '80'));
  s += appendForwarded(head, 'x-forwarded-proto', encrypted ? 'https' : 'http');
  if (!hasForwardedHost && host) s += `x-forwarded-host: ${host}\r\n`;
  return s;
}

/** node:http front: the identity header, the client's removed and ours set (http-proxy's xfwd adds the rest). */
export function setIdentityHeader(req: IncomingMessage, xfcc: string | undefined): void {
  delete req.headers['x-forwarded-client-cert'];
  if (xfcc) req.headers['x-forwarded-client-cert'] = xfcc;
}

/** `name: <values the client sent>,<ours>` (http-proxy's xfwd). */
function appendForwarded(head: RequestHead, name: string, value: string): string {
  let prior: string | undefined;
  for (let i = 0; i < head.names.length; i++) if (head.names[i] === name) prior = prior === undefined ? head.values[i] : `${prior}, ${head.values[i]}`;
  return `${name}: ${prior ? `${prior},${value}` : value}\r\n`;
}

// HTTP Strict Transport Security (RFC 6797) on every response of an http
// offload listener, including the proxy's own error answers. Applied when the
// head is written, so the value is exact and replaces one the app sent (the
// policy belongs to the edge, and two differing headers would be ambiguous).
import { ServerResponse } from 'node:http';
import type { HstsConfig } from '../config/offload.js';
import type { DeepReadonly } from '../config/load.js';

export function hstsValue(h: DeepReadonly<HstsConfig>): string {
  return `max-age=${h.maxAge}${h.includeSubDomains ? '; includeSubDomains' : ''}${h.preload ? '; preload' : ''}`;
}

/** A ServerResponse class for http.createServer({ ServerResponse }): no per-request allocation. */
export function hstsResponseClass(value: string): typeof ServerResponse {
  class HstsResponse extends ServerResponse {}
  const writeHead = ServerResponse.prototype.writeHead as (this: ServerResponse, ...args: unknown[]) => ServerResponse;
  // Node routes implicit heads (write or end without writeHead) through writeHead too.
  HstsResponse.prototype.writeHead = function (this: ServerResponse, ...args: unknown[]) {
    if (!this.headersSent) this.setHeader('strict-transport-security', value);
    return writeHead.apply(this, args);
  } as ServerResponse['writeHead'];
  return HstsResponse as unknown as typeof ServerResponse;
}

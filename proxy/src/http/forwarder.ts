// The one seam between our http listeners and the library that forwards
// requests: http-proxy today, something else if the benchmark says so.
import type { Agent, IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { createRequire } from 'node:module';

export interface Forwarder {
  web(req: IncomingMessage, res: ServerResponse, target: string, onError: (err: Error) => void): void;
  ws(req: IncomingMessage, socket: Duplex, head: Buffer, target: string, onError: (err: Error) => void): void;
}

export interface ForwarderOptions {
  agent: Agent;
  /** Add X-Forwarded-For/-Port/-Proto/-Host (inbound). */
  xfwd: boolean;
  /** True when this connection is being recycled: the response must say `Connection: close`. */
  closing?: (req: IncomingMessage) => boolean;
}

// Loaded on first use: only TLSMESH_HTTP_ENGINE=node listeners need it.
type HttpProxy = typeof import('http-proxy');
let httpProxy: HttpProxy | undefined;

export function createForwarder(o: ForwarderOptions): Forwarder {
  httpProxy ??= createRequire(import.meta.url)('http-proxy') as HttpProxy;
  const proxy = httpProxy.createProxyServer({ agent: o.agent, xfwd: o.xfwd, ws: true, preserveHeaderKeyCase: true });
  // Errors are delivered to the per-call callbacks; this keeps a stray one from
  // becoming an uncaught 'error' event.
  proxy.on('error', () => {});
  // http-proxy copies the app's `Connection` header (or sets keep-alive); a
  // recycled connection must tell the client it closes, or the client would
  // send its next request into a closing socket.
  if (o.closing) {
    const closing = o.closing;
    proxy.on('proxyRes', (proxyRes: IncomingMessage, req: IncomingMessage) => {
      if (closing(req)) proxyRes.headers.connection = 'close';
    });
  }
  return {
    web(req, res, target, onError) {
      proxy.web(req, res, { target }, onError);
    },
    ws(req, socket, head, target, onError) {
      proxy.ws(req, socket, head, { target }, onError);
    },
  };
}

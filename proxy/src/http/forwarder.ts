// The one seam between our http listeners and the library that forwards
// requests: http-proxy today, something else if the benchmark says so.
import type { Agent, IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import httpProxy from 'http-proxy';

export interface Forwarder {
  web(req: IncomingMessage, res: ServerResponse, target: string, onError: (err: Error) => void): void;
  ws(req: IncomingMessage, socket: Duplex, head: Buffer, target: string, onError: (err: Error) => void): void;
}

export interface ForwarderOptions {
  agent: Agent;
  /** Add X-Forwarded-For/-Port/-Proto/-Host (inbound). */
  xfwd: boolean;
}

export function createForwarder(o: ForwarderOptions): Forwarder {
  const proxy = httpProxy.createProxyServer({ agent: o.agent, xfwd: o.xfwd, ws: true, preserveHeaderKeyCase: true });
  // Errors are delivered to the per-call callbacks; this keeps a stray one from
  // becoming an uncaught 'error' event.
  proxy.on('error', () => {});
  return {
    web(req, res, target, onError) {
      proxy.web(req, res, { target }, onError);
    },
    ws(req, socket, head, target, onError) {
      proxy.ws(req, socket, head, { target }, onError);
    },
  };
}

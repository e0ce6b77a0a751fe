// Inbound http: requests of admitted connections go to the app, through the
// h1 engine (kept-alive app connections pooled per address) or through the
// node:http front and http-proxy, with the identity and forwarding headers
// set (forwarding-headers.ts). The listener admits; this serves.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { AccessLogMode } from '../access-log.js';
import { formatHostPort, type HostPort } from '../config/index.js';
import { TlsmeshError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { ConnTracker } from '../net/tracker.js';
import { httpEngineKind } from '../http/engine-choice.js';
import { createForwarder, type Forwarder } from '../http/forwarder.js';
import { createHttpFront, sendError } from '../http/front.js';
import { upstreamOnRead } from '../http/h1/borrowed-read.js';
import { H1Engine, type Route } from '../http/h1/engine.js';
import type { RequestRecorder } from '../http/request-record.js';
import { SocketPool } from '../http/h1/pool.js';
import { kindOf, reportUpstreamError } from '../http/upstream-errors.js';
import type { Offload } from '../offload/offload.js';
import type { AppConnector } from './app-connector.js';
import { FORWARDING_HEADERS, forwardingHeaders, setIdentityHeader } from './forwarding-headers.js';

/** What serving needs to know of an admitted connection. */
export interface InboundConnView {
  peer?: string;
  /** Envoy-format identity header value. */
  xfcc?: string;
  target?: HostPort;
  /** A stream of a multiplexed connection: that connection's TLS socket. */
  via?: Socket;
}

export interface InboundHttpOptions {
  listener: string;
  app: AppConnector;
  tracker: ConnTracker;
  metrics: Metrics;
  log: Logger;
  accessLog: AccessLogMode;
  clock: () => number;
  offload?: Offload;
  connOf: (s: Socket) => InboundConnView | undefined;
}

export class InboundHttp {
  private readonly forwarder?: Forwarder;
  private readonly front?: ReturnType<typeof createHttpFront>;
  private readonly engine?: H1Engine;
  private readonly appPool = new SocketPool();
  private readonly routes = new Map<string, Route>();
  /** Who this listener is, for request records and upstream errors. */
  private readonly recorder: RequestRecorder;

  constructor(private readonly o: InboundHttpOptions) {
    const { listener, tracker, metrics, log, offload, connOf } = o;
    const recorder: RequestRecorder = (this.recorder = { direction: 'inbound', listener, metrics, log, accessLog: o.accessLog, peerOf: (s) => connOf(s)?.peer });
    if (httpEngineKind() === 'h1') {
      this.engine = new H1Engine({
        ...recorder,
        tracker,
        rewrite: {
          drop: FORWARDING_HEADERS,
          add: (down, head) => {
            const c = connOf(down);
            return forwardingHeaders(c?.via ?? down, head, c?.xfcc);
          },
        },
        responseHeaders: offload?.responseHeaders,
      });
    } else {
      this.forwarder = createForwarder({ agent: o.app.agent, xfwd: true, closing: (req) => tracker.closing(req.socket) });
      this.front = createHttpFront({
        ...recorder,
        tracker,
        clock: o.clock,
        handle: (req, res) => this.forwardRequest(req, res),
        upgrade: (req, socket, head) => this.forwardUpgrade(req, socket, head),
        responseClass: offload?.responseClass,
      });
    }
  }

  /** Serve an admitted connection (tracked and marked http by the listener) whose requests go to `target`. */
  serve(s: Socket, target: HostPort): void {
    if (this.engine) {
      this.engine.serve(s, this.routeTo(target));
      return;
    }
    this.front!.emit('connection', s);
  }

  /** The app at `t`, with its pool of kept-alive connections (h1 engine). */
  private routeTo(t: HostPort): Route {
    const key = formatHostPort(t);
    let r = this.routes.get(key);
    if (!r) {
      r = { key, url: `${this.o.app.scheme}://${key}`, pool: this.appPool, dial: (cb) => this.o.app.connect(t.host, t.port, cb, upstreamOnRead) };
      if (this.routes.size < 1024) this.routes.set(key, r);
    }
    return r;
  }

  private targetUrl(req: IncomingMessage): string | undefined {
    const t = this.o.connOf(req.socket)?.target;
    return t ? `${this.o.app.scheme}://${formatHostPort(t)}` : undefined;
  }

  private forwardRequest(req: IncomingMessage, res: ServerResponse): void {
    const target = this.targetUrl(req);
    if (!target) return sendError(res, 502, 'no upstream');
    setIdentityHeader(req, this.o.connOf(req.socket)?.xfcc);
    this.forwarder!.web(req, res, target, (err) => sendError(res, 502, reportUpstreamError(err, target, this.recorder)));
  }

  private forwardUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const target = this.targetUrl(req);
    if (!target) {
      socket.destroy();
      return;
    }
    setIdentityHeader(req, this.o.connOf(req.socket)?.xfcc);
    this.forwarder!.ws(req, socket, head, target, (err) => {
      if (!(err instanceof TlsmeshError)) this.o.metrics.upstreamErrors.labels('inbound', kindOf(err)).inc();
      socket.destroy();
    });
  }
}

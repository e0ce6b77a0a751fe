// A finished request, on either engine: its metrics, and at info the access
// line that `accessLog` asks for (one JSON line, the same fields from both engines).
import type { Socket } from 'node:net';
import { logsRequest, type AccessLogMode } from '../access-log.js';
import type { Logger } from '../log.js';
import type { Direction, Metrics } from '../metrics.js';

/** Longer request targets are cut here in the access line and marked with `...`. */
const PATH_MAX = 256;

export interface RequestRecorder {
  direction: Direction;
  listener: string;
  metrics: Metrics;
  log: Logger;
  accessLog: AccessLogMode;
  peerOf: (socket: Socket) => string | undefined;
}

export function recordRequest(o: RequestRecorder, socket: Socket, method: string | undefined, target: string | undefined, code: number, seconds: number): void {
  o.metrics.request(o.direction, code, seconds);
  if (!logsRequest(o.accessLog, code) || !o.log.isLevelEnabled('info')) return;
  o.log.info({
    event: 'request',
    direction: o.direction,
    listener: o.listener,
    peer: o.peerOf(socket),
    method,
    path: target && target.length > PATH_MAX ? `${target.slice(0, PATH_MAX)}...` : target,
    code,
    durationMs: Math.round(seconds * 1e6) / 1e3,
  });
}

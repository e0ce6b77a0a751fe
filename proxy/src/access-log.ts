// Which traffic gets an access line (`accessLog` in the config). Like Envoy's
// and linkerd2-proxy's access logs, healthy traffic is not logged by default:
// a line per request costs more CPU than the request's own parsing.
//   all:    a line per request (http listeners) and per closed connection
//   errors: requests answered 400 or above, connections that ended refused or in error (default)
//   off:    none (refusals are still logged as warnings, and everything is counted)
// The lines are written at info: `logLevel: warn` silences them whatever this says.

export const ACCESS_LOG_MODES = ['all', 'errors', 'off'] as const;
export type AccessLogMode = (typeof ACCESS_LOG_MODES)[number];

/** A request answered with `code` gets a line. */
export function logsRequest(mode: AccessLogMode, code: number): boolean {
  return mode === 'all' || (mode === 'errors' && code >= 400);
}

/** A connection that closed with `result` gets a line. */
export function logsConnection(mode: AccessLogMode, result: string): boolean {
  return mode === 'all' || (mode === 'errors' && (result === 'error' || result === 'refused'));
}

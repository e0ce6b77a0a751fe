// Which engine forwards http listeners' requests: `h1` (http/h1/engine.ts, the
// default: heads parsed, bytes forwarded as they come) or `node` (node:http
// front + http-proxy behind the Forwarder seam). TLSMESH_HTTP_ENGINE=node picks
// the latter, for comparison in the benchmark (docs/benchmarks.md).
export type HttpEngineKind = 'h1' | 'node';

export function httpEngineKind(env: NodeJS.ProcessEnv = process.env): HttpEngineKind {
  return env.TLSMESH_HTTP_ENGINE === 'node' ? 'node' : 'h1';
}

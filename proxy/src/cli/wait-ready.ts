// `tlsmesh wait-ready [--url URL] [--timeout 120s]`: poll the sidecar's
// readiness endpoint until it answers 200. The injector puts it in the proxy
// container's postStart hook (container mode), so kubelet starts the app only
// once the proxy is ready. Exit 0 when ready, 1 at the timeout.
import { get } from 'node:http';
import { ADMIN_PORT } from '../defaults.js';
import { UsageError } from '../errors.js';
import { parseDuration, parseFlags } from './args.js';

export async function run(args: string[]): Promise<number> {
  const { values } = parseFlags('wait-ready', args, { url: { type: 'string' }, timeout: { type: 'string' } });
  const url = values.url ?? `http://127.0.0.1:${ADMIN_PORT}/healthz/ready`;
  try {
    if (new URL(url).protocol !== 'http:') throw new Error('scheme');
  } catch {
    throw new UsageError(`wait-ready: --url: expected an http:// URL, got ${JSON.stringify(url)}`);
  }
  const timeoutMs = values.timeout === undefined ? 120_000 : parseDuration(values.timeout);
  if (timeoutMs === undefined) throw new UsageError(`wait-ready: --timeout: expected a duration like 30s or 2m, got ${JSON.stringify(values.timeout)}`);
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer yet';
  for (;;) {
    last = await probe(url, 1000);
    if (last === '200') return 0;
    if (Date.now() >= deadline) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  process.stderr.write(`wait-ready: ${url} not ready after ${values.timeout ?? '120s'} (last: ${last})\n`);
  return 1;
}

function probe(url: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve) => {
    const req = get(url, { timeout: timeoutMs }, (res) => {
      res.resume();
      resolve(String(res.statusCode));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (err) => resolve((err as NodeJS.ErrnoException).code ?? err.message));
  });
}

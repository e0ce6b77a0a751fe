// GET /stats/prometheus: our metrics, then the app's own, fetched from the app
// on localhost. The app being down, slow or serving garbage costs a counted
// scrape error and a comment line, never our own metrics.
import http from 'node:http';
import type { Metrics } from '../metrics.js';

const MAX_BYTES = 16 * 1024 * 1024;
const TIMEOUT_MS = 5_000;
const SAMPLE = /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})?[ \t]+\S+([ \t]+-?\d+)?$/;

export type ScrapeFailure = 'connect' | 'timeout' | 'status' | 'too_large' | 'parse';

export function fetchText(url: string): Promise<{ ok: true; text: string } | { ok: false; kind: ScrapeFailure; detail: string }> {
  return new Promise((resolve) => {
    const req = http.get(url, { timeout: TIMEOUT_MS, headers: { accept: 'text/plain;version=0.0.4' } }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        resolve({ ok: false, kind: 'status', detail: `HTTP ${res.statusCode}` });
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_BYTES) {
          req.destroy();
          resolve({ ok: false, kind: 'too_large', detail: `more than ${MAX_BYTES} bytes` });
          return;
        }
        chunks.push(c);
      });
      res.on('end', () => resolve({ ok: true, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', (err) => resolve({ ok: false, kind: 'connect', detail: err.message }));
    });
    req.on('timeout', () => {
      req.destroy();
      resolve({ ok: false, kind: 'timeout', detail: `no answer within ${TIMEOUT_MS} ms` });
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ ok: false, kind: 'connect', detail: err.code ?? err.message }));
  });
}

/**
 * The app's exposition text, checked line by line and with the families we
 * export ourselves (tlsmesh_*) removed; undefined when it is not the
 * Prometheus text format.
 */
export function cleanAppMetrics(text: string): string | undefined {
  const out: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '');
    if (line === '' || line === '# EOF') continue;
    if (line.startsWith('#')) {
      const name = /^# (?:HELP|TYPE|UNIT) (\S+)/.exec(line)?.[1];
      if (name?.startsWith('tlsmesh_')) continue;
      out.push(line);
      continue;
    }
    if (!SAMPLE.test(line)) return undefined;
    if (line.startsWith('tlsmesh_')) continue;
    out.push(line);
  }
  return out.length ? `${out.join('\n')}\n` : '';
}

export async function mergedMetrics(own: string, appUrl: string | undefined, metrics: Metrics): Promise<string> {
  if (!appUrl) return own;
  const r = await fetchText(appUrl);
  if (!r.ok) {
    metrics.appMetricsErrors.labels(r.kind).inc();
    return `${own}# tlsmesh: the app's metrics at ${appUrl} could not be fetched: ${r.kind} (${r.detail})\n`;
  }
  const clean = cleanAppMetrics(r.text);
  if (clean === undefined) {
    metrics.appMetricsErrors.labels('parse').inc();
    return `${own}# tlsmesh: the app's metrics at ${appUrl} are not in the Prometheus text format\n`;
  }
  return own + clean;
}

// A small HTTP client for the demo's own polling (admin endpoints, the
// frontend app's counters): no keep-alive, a short timeout, never throws.
import http from 'node:http';

export interface Got {
  status: number;
  body: string;
}

/** Resolves with the answer, or with status 0 and the error in `body`. */
export function request(url: string, o: { method?: string; timeoutMs?: number } = {}): Promise<Got> {
  return new Promise((resolve) => {
    const req = http.request(url, { method: o.method ?? 'GET', agent: false, timeout: o.timeoutMs ?? 2000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', (err) => resolve({ status: 0, body: err.message }));
    });
    req.on('timeout', () => req.destroy(new Error(`timeout after ${o.timeoutMs ?? 2000}ms`)));
    req.on('error', (err) => resolve({ status: 0, body: err.message }));
    req.end();
  });
}

export async function getJson<T>(url: string, timeoutMs?: number): Promise<T | undefined> {
  const r = await request(url, { timeoutMs });
  if (r.status !== 200) return undefined;
  try {
    return JSON.parse(r.body) as T;
  } catch {
    return undefined;
  }
}

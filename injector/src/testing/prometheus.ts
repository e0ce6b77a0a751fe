// A real Prometheus server (Debian's `prometheus` binary) for tests: started on
// 127.0.0.1 with a temporary config and storage dir, queried over its HTTP API,
// stopped by pid. For tests only.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { eventually } from './process.js';

export const PROMETHEUS_BIN = process.env.TLSMESH_PROMETHEUS ?? '/usr/bin/prometheus';

export function prometheusAvailable(): boolean {
  return spawnSync(PROMETHEUS_BIN, ['--version'], { stdio: 'ignore' }).status === 0;
}

export interface Target {
  labels: Record<string, string>;
  scrapeUrl: string;
  health: 'up' | 'down' | 'unknown';
  lastError: string;
}

export interface Prometheus {
  url: string;
  child: ChildProcess;
  log: () => string;
  targets(): Promise<Target[]>;
  /** Instant query: the result vector as {metric, value}. */
  query(expr: string): Promise<{ metric: Record<string, string>; value: number }[]>;
  stop(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

function getJson<T>(url: string): Promise<T> {
  return new Promise((resolve, reject) => {
    get(url, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => {
        try {
          resolve(JSON.parse(body) as T);
        } catch (err) {
          reject(new Error(`${url}: ${res.statusCode} ${body.slice(0, 200)}`, { cause: err }));
        }
      });
    }).on('error', reject);
  });
}

/** Start Prometheus with `scrapeConfigs` (Prometheus' own YAML shape) scraping every second. */
export async function startPrometheus(dir: string, scrapeConfigs: object[]): Promise<Prometheus> {
  mkdirSync(join(dir, 'data'), { recursive: true });
  const config = { global: { scrape_interval: '1s', scrape_timeout: '900ms', evaluation_interval: '1s' }, scrape_configs: scrapeConfigs };
  writeFileSync(join(dir, 'prometheus.yml'), stringify(config));
  const port = await freePort();
  const child = spawn(
    PROMETHEUS_BIN,
    [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (log += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const prom: Prometheus = {
    url,
    child,
    log: () => log,
    async targets() {
      const r = await getJson<{ data: { activeTargets: Target[] } }>(`${url}/api/v1/targets`);
      return r.data.activeTargets;
    },
    async query(expr) {
      const r = await getJson<{ status: string; data: { result: { metric: Record<string, string>; value: [number, string] }[] } }>(`${url}/api/v1/query?query=${encodeURIComponent(expr)}`);
      return r.data.result.map((x) => ({ metric: x.metric, value: Number(x.value[1]) }));
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
  try {
    await eventually(
      async () => {
        if (child.exitCode !== null) throw new Error(`prometheus exited: ${log}`);
        return (await new Promise<number>((resolve, reject) => get(`${url}/-/ready`, (res) => (res.resume(), resolve(res.statusCode!))).on('error', reject))) === 200 ? true : undefined;
      },
      30_000,
      'prometheus ready',
    );
  } catch (err) {
    await prom.stop();
    throw err;
  }
  return prom;
}

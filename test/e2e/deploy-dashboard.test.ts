// The Grafana dashboard: well-formed, every query names metrics and labels the
// sidecar and the controller really export, every metric of the public contract
// has a panel, every query parses as PromQL (promtool), and the key panels
// compute what their titles say on sample series (promtool test rules).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControllerMetrics } from '../../injector/src/controller/metrics.js';
import { ROOT } from '../../injector/src/testing/process.js';
import { createMetrics } from '../../proxy/src/metrics.js';

interface Target {
  expr: string;
  datasource: { uid: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  datasource?: { uid: string };
  targets?: Target[];
}

const dashboard = JSON.parse(readFileSync(join(ROOT, 'deploy/observability/grafana-dashboard.json'), 'utf8')) as { uid: string; panels: Panel[]; templating: { list: { name: string }[] } };
const panels = dashboard.panels.filter((p) => p.type !== 'row');
const exprs = panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })));

/** The metrics of the public contract (INTERFACE.md), each with its labels. */
const CONTRACT: Record<string, string[]> = {
  tlsmesh_handshakes_total: ['direction', 'result', 'reason'],
  tlsmesh_connections_active: ['direction'],
  tlsmesh_identity_expiry_timestamp_seconds: [],
  tlsmesh_identity_reloads_total: ['result'],
  tlsmesh_requests_total: ['direction', 'code'],
  tlsmesh_request_duration_seconds: ['direction'],
};
/** Labels Prometheus adds from the scrape config (observability/prometheus-scrape.yaml). */
const TARGET_LABELS = ['namespace', 'pod', 'app', 'job', 'instance'];

function exported(): Map<string, string[]> {
  const registry = new Registry();
  createMetrics(registry);
  new ControllerMetrics(registry);
  const out = new Map<string, string[]>();
  for (const m of registry.getMetricsAsArray() as unknown as { name: string; type: string; labelNames?: string[] }[]) {
    out.set(m.name, m.labelNames ?? []);
    if (m.type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) out.set(m.name + s, [...(m.labelNames ?? []), ...(s === '_bucket' ? ['le'] : [])]);
  }
  return out;
}

/** The query as Prometheus sees it once Grafana has filled in its variables. */
const concrete = (expr: string) => expr.replaceAll('$__rate_interval', '5m').replaceAll('$namespace', '.*');

const HAVE_PROMTOOL = spawnSync('promtool', ['--version'], { encoding: 'utf8' }).status === 0;
if (!HAVE_PROMTOOL) console.warn('SKIPPING the PromQL checks: promtool (prometheus) is not installed');

describe('Grafana dashboard', () => {
  it('is well formed: unique panel ids, no overlapping panels, every query on the datasource variable', () => {
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    const cells = new Set<string>();
    for (const p of dashboard.panels) {
      expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24);
      for (let x = p.gridPos.x; x < p.gridPos.x + p.gridPos.w; x++) {
        for (let y = p.gridPos.y; y < p.gridPos.y + p.gridPos.h; y++) {
          expect(cells.has(`${x},${y}`), `${p.title} overlaps at ${x},${y}`).toBe(false);
          cells.add(`${x},${y}`);
        }
      }
    }
    expect(dashboard.templating.list.map((v) => v.name)).toEqual(['datasource', 'namespace']);
    for (const p of panels) {
      expect(p.datasource?.uid, p.title).toBe('${datasource}');
      expect(p.targets?.length, p.title).toBeGreaterThan(0);
      for (const t of p.targets!) expect(t.datasource.uid).toBe('${datasource}');
    }
  });

  it('queries only metrics and labels that the sidecar and the controller export', () => {
    const metrics = exported();
    for (const [name, labels] of Object.entries(CONTRACT)) expect(metrics.get(name), name).toEqual(expect.arrayContaining(labels));
    for (const { panel, expr } of exprs) {
      const names = expr.match(/\btlsmesh_[a-z_]+/g) ?? [];
      expect(names.length, panel).toBeGreaterThan(0);
      for (const n of names) {
        expect(metrics.has(n), `${panel}: ${n}`).toBe(true);
        for (const m of expr.matchAll(/\bby \(([^)]*)\)/g)) {
          for (const label of m[1]!.split(',').map((s) => s.trim())) {
            expect([...metrics.get(n)!, ...TARGET_LABELS], `${panel}: by ${label}`).toContain(label);
          }
        }
        for (const m of expr.matchAll(/\b([a-z_]+)=~?"/g)) expect([...metrics.get(n)!, ...TARGET_LABELS], `${panel}: ${m[1]}`).toContain(m[1]);
      }
    }
  });

  it('has a panel for every metric of the public contract', () => {
    const used = new Set(exprs.flatMap(({ expr }) => (expr.match(/\btlsmesh_[a-z_]+/g) ?? []).map((n) => n.replace(/_bucket$/, ''))));
    for (const name of Object.keys(CONTRACT)) expect(used.has(name), name).toBe(true);
    const iface = join(ROOT, '../shared/INTERFACE.md');
    if (existsSync(iface)) {
      const table = [...readFileSync(iface, 'utf8').matchAll(/^\| `(tlsmesh_[a-z_]+)`/gm)].map((m) => m[1]);
      expect(table.sort()).toEqual(Object.keys(CONTRACT).sort());
    }
  });

  describe.skipIf(!HAVE_PROMTOOL)('with promtool', () => {
    let dir: string;
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'tlsmesh-dashboard-'));
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('every query parses as PromQL', () => {
      const rules = { groups: [{ name: 'dashboard', rules: exprs.map((e, i) => ({ record: `dashboard:query_${i}`, expr: concrete(e.expr) })) }] };
      writeFileSync(join(dir, 'rules.yml'), JSON.stringify(rules));
      const r = spawnSync('promtool', ['check', 'rules', join(dir, 'rules.yml')], { encoding: 'utf8' });
      expect(r.stdout + r.stderr).toContain(`SUCCESS: ${exprs.length} rules found`);
      expect(r.status).toBe(0);
    });

    it('refused handshakes by reason and the soonest expiry compute what their titles say', () => {
      const expr = (title: string) => concrete(exprs.find((e) => e.panel === title)!.expr);
      writeFileSync(
        join(dir, 'panels.yml'),
        JSON.stringify({
          groups: [
            {
              name: 'panels',
              rules: [
                { record: 'refused', expr: expr('Refused handshakes by reason') },
                { record: 'expiry', expr: expr('Soonest identity expiry') },
              ],
            },
          ],
        }),
      );
      // Two pods; 60 refused per minute as pin_mismatch, 6 as untrusted, 600 ok (not counted).
      const series = [
        { series: 'tlsmesh_handshakes_total{namespace="shop",pod="a",direction="inbound",result="error",reason="pin_mismatch"}', values: '0+60x10' },
        { series: 'tlsmesh_handshakes_total{namespace="shop",pod="b",direction="inbound",result="error",reason="untrusted"}', values: '0+6x10' },
        { series: 'tlsmesh_handshakes_total{namespace="shop",pod="a",direction="inbound",result="ok",reason=""}', values: '0+600x10' },
        // Expiry timestamps (seconds since the epoch): pod a expires at 7200, pod b at 3600.
        { series: 'tlsmesh_identity_expiry_timestamp_seconds{namespace="shop",pod="a"}', values: '7200x10' },
        { series: 'tlsmesh_identity_expiry_timestamp_seconds{namespace="shop",pod="b"}', values: '3600x10' },
      ];
      const test = {
        rule_files: ['panels.yml'],
        evaluation_interval: '1m',
        tests: [
          {
            interval: '1m',
            input_series: series,
            promql_expr_test: [
              {
                expr: 'refused',
                eval_time: '10m',
                exp_samples: [
                  { labels: 'refused{direction="inbound",reason="pin_mismatch"}', value: 1 },
                  { labels: 'refused{direction="inbound",reason="untrusted"}', value: 0.1 },
                ],
              },
              // At 10 minutes (600 s), the soonest expiry is pod b's: 3600 - 600 s left.
              { expr: 'expiry', eval_time: '10m', exp_samples: [{ labels: 'expiry', value: 3000 }] },
            ],
          },
        ],
      };
      writeFileSync(join(dir, 'test.yml'), JSON.stringify(test));
      const r = spawnSync('promtool', ['test', 'rules', join(dir, 'test.yml')], { encoding: 'utf8', cwd: dir });
      expect(r.stdout + r.stderr).toContain('SUCCESS');
      expect(r.status).toBe(0);
    });
  });
});

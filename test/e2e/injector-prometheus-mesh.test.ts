// Prometheus scraping kept working in the mesh. A real Prometheus scrapes a
// meshed app twice:
//   1. through the merged endpoint the injector pointed prometheus.io/port and
//      prometheus.io/path at (the sidecar's admin port, /stats/prometheus), and
//   2. through the sidecar's inbound mTLS listener, with a client SVID of its own,
//      verifying the sidecar's certificate properly: a DNS SAN in the SVID and
//      `server_name`, never `insecure_skip_verify`.
// Both targets are up with the app's metric. The sidecar's allow-list (set by
// the tlsmesh.io/allow annotation) admits Prometheus's identity and no other:
// the same scrape with another workload's SVID, or with no client certificate,
// is down, and the sidecar counts why.
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import type net from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultInjectorConfig } from '../../injector/src/config.js';
import { injectPod } from '../../injector/src/sidecar.js';
import { container, pod } from '../../injector/src/testing/builders.js';
import { generatedProxyConfig, localize } from '../../injector/src/testing/local-sidecar.js';
import { prometheusAvailable, startPrometheus, type Prometheus, type Target } from '../../injector/src/testing/prometheus.js';
import { metric, startSidecar, type SidecarHandle } from '../support/mesh.js';
import { ca, identity, leaf, tempDir, writeSecret } from '../support/pki.js';
import { eventually, freePorts, killAll } from '../support/processes.js';

const TD = 'cluster.local';
const PROMETHEUS_ID = `spiffe://${TD}/ns/monitoring/sa/prometheus`;
const SERVER_NAME = 'shop.shop.svc';
const available = prometheusAvailable();
if (!available) console.warn('SKIPPED: injector-prometheus-mesh needs /usr/bin/prometheus (Debian package prometheus)');

describe.skipIf(!available)('a real Prometheus scrapes a meshed app', () => {
  const { dir, cleanup } = tempDir('tlsmesh-prom-mesh-');
  let app: http.Server;
  let garbage = false;
  let sidecar: SidecarHandle;
  let prom: Prometheus;
  let annotations: Record<string, string>;

  beforeAll(async () => {
    app = http.createServer((req, res) => {
      if (req.url === '/metrics' && garbage) res.writeHead(200).end('<html>not metrics</html>\n');
      else if (req.url === '/metrics') res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end('# HELP shop_orders_total Orders taken.\n# TYPE shop_orders_total counter\nshop_orders_total 42\n');
      else res.writeHead(404).end();
    });
    app.listen(0, '127.0.0.1');
    await once(app, 'listening');
    const appPort = (app.address() as net.AddressInfo).port;

    const injected = injectPod(
      pod({
        name: 'shop-0',
        namespace: 'shop',
        serviceAccountName: 'shop',
        annotations: {
          'prometheus.io/scrape': 'true',
          'prometheus.io/port': String(appPort),
          'prometheus.io/path': '/metrics',
          'tlsmesh.io/inbound-protocol': 'http',
          'tlsmesh.io/allow': PROMETHEUS_ID,
        },
        containers: [container('shop', { ports: [{ name: 'http', containerPort: appPort }] })],
      }),
      { config: defaultInjectorConfig(), namespace: 'shop' },
    ).pod;
    annotations = injected.metadata!.annotations!;

    const root = await ca({ trustDomain: TD });
    writeFileSync(join(dir, 'ca.pem'), root.certPem);
    // The sidecar's SVID carries the DNS name Prometheus verifies (server_name).
    const shop = await identity(root, `spiffe://${TD}/ns/shop/sa/shop`, { dnsNames: [SERVER_NAME] });
    await writeSecret(join(dir, 'shop-identity'), shop.files);
    for (const [name, id] of [['prometheus', PROMETHEUS_ID], ['intruder', `spiffe://${TD}/ns/shop/sa/intruder`]] as const) {
      const l = await leaf({ issuer: root, spiffeId: id });
      writeFileSync(join(dir, `${name}.crt`), l.certPem);
      writeFileSync(join(dir, `${name}.key`), l.key.privatePem, { mode: 0o600 });
    }

    const [adminPort, inboundPort] = await freePorts(2);
    sidecar = await startSidecar(dir, 'shop', localize(generatedProxyConfig(injected), { adminPort: adminPort!, inboundPort: inboundPort!, appPort, identityDir: join(dir, 'shop-identity') }));

    const tls = (client?: string) => ({
      ca_file: join(dir, 'ca.pem'),
      server_name: SERVER_NAME,
      insecure_skip_verify: false,
      ...(client ? { cert_file: join(dir, `${client}.crt`), key_file: join(dir, `${client}.key`) } : {}),
    });
    prom = await startPrometheus(join(dir, 'prometheus'), [
      // What the rewritten annotations tell Prometheus' usual pod job: the admin port (15020 in a pod) and this path.
      { job_name: 'merged', metrics_path: annotations['prometheus.io/path'], static_configs: [{ targets: [`127.0.0.1:${adminPort}`] }] },
      { job_name: 'mtls', scheme: 'https', metrics_path: '/metrics', tls_config: tls('prometheus'), static_configs: [{ targets: [`127.0.0.1:${inboundPort}`] }] },
      { job_name: 'mtls-intruder', scheme: 'https', metrics_path: '/metrics', tls_config: tls('intruder'), static_configs: [{ targets: [`127.0.0.1:${inboundPort}`] }] },
      { job_name: 'mtls-no-client-cert', scheme: 'https', metrics_path: '/metrics', tls_config: tls(), static_configs: [{ targets: [`127.0.0.1:${inboundPort}`] }] },
    ]);
  }, 90_000);

  afterAll(async () => {
    await prom?.stop();
    await killAll();
    app?.close();
    cleanup();
  });

  let targets: Record<string, Target>;

  it('the injector pointed the annotations at the merged endpoint and kept the originals', () => {
    expect(annotations['prometheus.io/port']).toBe('15020');
    expect(annotations['prometheus.io/path']).toBe('/stats/prometheus');
    expect(annotations['tlsmesh.io/prometheus-original-path']).toBe('/metrics');
  });

  it('both targets are up; the other identity and no client certificate are down', async () => {
    const all = await eventually(async () => {
      const t = await prom.targets();
      return t.length === 4 && t.every((x) => x.health !== 'unknown') ? t : undefined;
    }, 'every target scraped once', 45_000);
    targets = Object.fromEntries(all.map((t) => [t.labels.job!, t]));
    expect({ merged: targets.merged!.health, mtls: targets.mtls!.health }).toEqual({ merged: 'up', mtls: 'up' });
    expect(targets.mtls!.scrapeUrl).toMatch(/^https:/);
    expect(targets['mtls-intruder']!.health).toBe('down');
    expect(targets['mtls-no-client-cert']!.health).toBe('down');
  });

  it("the app's metric arrives through both, and the merged endpoint adds the sidecar's own", async () => {
    for (const job of ['merged', 'mtls']) {
      const r = await eventually(async () => {
        const v = await prom.query(`shop_orders_total{job="${job}"}`);
        return v.length === 1 ? v : undefined;
      }, `shop_orders_total from ${job}`, 30_000);
      expect(r[0]!.value).toBe(42);
    }
    // The sidecar's own counter of Prometheus' accepted mTLS handshakes, seen through the merged endpoint.
    const own = await eventually(async () => {
      const v = await prom.query('tlsmesh_handshakes_total{job="merged",direction="inbound",result="ok"}');
      return v.length === 1 && v[0]!.value >= 1 ? v : undefined;
    }, 'tlsmesh_handshakes_total through the merged endpoint', 30_000);
    expect(own[0]!.metric).toMatchObject({ job: 'merged', direction: 'inbound', result: 'ok' });
  });

  it("the sidecar counted the refused scrapes with their reasons", async () => {
    const text = await sidecar.metrics();
    expect(metric(text, 'tlsmesh_handshakes_total', { direction: 'inbound', result: 'error', reason: 'identity_denied' })).toBeGreaterThanOrEqual(1);
    expect(metric(text, 'tlsmesh_handshakes_total', { direction: 'inbound', result: 'error', reason: 'no_peer_cert' })).toBeGreaterThanOrEqual(1);
  });

  it("an app serving garbage costs a counted scrape error, never the sidecar's own metrics", async () => {
    garbage = true;
    const errors = await eventually(async () => {
      const v = await prom.query('tlsmesh_app_metrics_scrape_errors_total{job="merged",kind="parse"}');
      return v.length === 1 && v[0]!.value >= 1 ? v : undefined;
    }, 'the parse error counted, seen through the merged endpoint', 30_000);
    expect(errors[0]!.metric.job).toBe('merged');
    expect((await prom.query('up{job="merged"}'))[0]!.value).toBe(1);
  });
});

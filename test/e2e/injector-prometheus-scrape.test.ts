// Operators scrape the webhook's own metrics: a real Prometheus scrapes
// `tlsmesh injector` over HTTPS, verifying its certificate against the CA for
// the Service's DNS name (server_name, never insecure_skip_verify); the target
// is up and the injector's counters arrive.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { admissionReview, pod } from '../../injector/src/testing/builders.js';
import { issueLeaf, makeCa, writeSecretDir, type Ca } from '../../injector/src/testing/pki.js';
import { eventually, startCli, type Running } from '../../injector/src/testing/process.js';
import { prometheusAvailable, startPrometheus, type Prometheus } from '../../injector/src/testing/prometheus.js';

const HOST = 'tlsmesh-injector.tlsmesh-system.svc';
const available = prometheusAvailable();
if (!available) console.warn('SKIPPED: injector-prometheus-scrape needs /usr/bin/prometheus (Debian package prometheus)');

describe.skipIf(!available)('Prometheus scrapes the injector', () => {
  let tmp: string;
  let ca: Ca;
  let injector: Running;
  let prom: Prometheus;
  let port: number;

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'tlsmesh-prom-injector-'));
    ca = makeCa(join(tmp, 'ca'));
    const leaf = issueLeaf(ca, { sans: [`DNS:${HOST}`], usage: 'server' });
    writeSecretDir(join(tmp, 'tls'), { 'tls.crt': leaf.certPem, 'tls.key': leaf.keyPem, 'ca.crt': ca.certPem });
    writeFileSync(join(tmp, 'injector.yaml'), `listen: 127.0.0.1:0\ntls:\n  dir: ${join(tmp, 'tls')}\n`);
    injector = startCli(['injector', '--config', join(tmp, 'injector.yaml')]);
    port = (await injector.waitFor((e) => e.msg === 'injector listening')).port as number;
    prom = await startPrometheus(join(tmp, 'prometheus'), [
      {
        job_name: 'injector',
        scheme: 'https',
        tls_config: { ca_file: ca.certFile, server_name: HOST, insecure_skip_verify: false },
        static_configs: [{ targets: [`127.0.0.1:${port}`] }],
      },
      {
        // The same target without the CA: must be down (the certificate is really verified).
        job_name: 'injector-unverified',
        scheme: 'https',
        tls_config: { server_name: HOST },
        static_configs: [{ targets: [`127.0.0.1:${port}`] }],
      },
    ]);
  }, 60_000);

  afterAll(async () => {
    await prom?.stop();
    await injector?.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('is up with the CA and server_name, and down without the CA', async () => {
    const targets = await eventually(async () => {
      const t = await prom.targets();
      return t.length === 2 && t.every((x) => x.health !== 'unknown') ? t : undefined;
    }, 30_000, 'both targets scraped');
    const byJob = Object.fromEntries(targets.map((t) => [t.labels.job, t]));
    expect(byJob.injector!.health).toBe('up');
    expect(byJob['injector-unverified']!.health).toBe('down');
    expect(byJob['injector-unverified']!.lastError).toMatch(/certificate/);
  });

  it("carries the injector's review counters", async () => {
    await new Promise<void>((resolve, reject) => {
      const body = JSON.stringify(admissionReview(pod()));
      const req = request({ host: '127.0.0.1', port, path: '/inject', method: 'POST', servername: HOST, ca: ca.certPem, headers: { 'content-type': 'application/json' } }, (res) => {
        res.resume();
        res.on('end', () => resolve());
      });
      req.on('error', reject);
      req.end(body);
    });
    const series = await eventually(async () => {
      const r = await prom.query('tlsmesh_injector_reviews_total{job="injector",outcome="injected",dry_run="false"}');
      return r.length === 1 && r[0]!.value >= 1 ? r : undefined;
    }, 30_000, 'the review counted in Prometheus');
    expect(series[0]!.metric).toMatchObject({ job: 'injector', instance: `127.0.0.1:${port}` });
  });
});

#!/usr/bin/env node
// Webhook benchmark: reviews per second and latency percentiles for a pod with
// ten containers (probes, ports, Prometheus annotations), measured
//   1. in process (answerReview: decode, decide, inject, diff, encode), and
//   2. over HTTPS against `tlsmesh injector` running as its own process, with
//      keep-alive connections, at concurrency 1 (one API server, one request at
//      a time) and 8.
// Usage: npm run build && node injector/bench/webhook.mjs [--seconds 10]
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import os, { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const dist = new URL('../../dist/', import.meta.url);
const { defaultInjectorConfig } = await import(new URL('injector/src/config.js', dist).href);
const { answerReview } = await import(new URL('injector/src/webhook.js', dist).href);
const { admissionReview, container, pod } = await import(new URL('injector/src/testing/builders.js', dist).href);
const { makeCa, issueLeaf, writeSecretDir } = await import(new URL('injector/src/testing/pki.js', dist).href);
const { startCli } = await import(new URL('injector/src/testing/process.js', dist).href);

const loadBefore = os.loadavg();
const { values } = parseArgs({ options: { seconds: { type: 'string', default: '10' } } });
const seconds = Number(values.seconds);

const containers = Array.from({ length: 10 }, (_, i) =>
  container(`app-${i}`, {
    ports: [{ name: 'http', containerPort: 8080 + i }, { name: 'metrics', containerPort: 9100 + i }],
    env: Array.from({ length: 8 }, (_, j) => ({ name: `VAR_${j}`, value: `value-${i}-${j}` })),
    resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '256Mi' } },
    livenessProbe: { httpGet: { path: '/livez', port: 'http' }, periodSeconds: 10 },
    readinessProbe: { tcpSocket: { port: 8080 + i } },
    volumeMounts: [{ name: 'data', mountPath: `/data/${i}` }],
  }),
);
const p = pod({
  name: 'bench-0',
  namespace: 'bench',
  serviceAccountName: 'bench',
  annotations: { 'prometheus.io/scrape': 'true', 'prometheus.io/port': '9100' },
  labels: { app: 'bench', 'app.kubernetes.io/version': '1.0.0' },
  containers,
  volumes: [{ name: 'data', emptyDir: {} }],
});
const body = Buffer.from(JSON.stringify(admissionReview(p, { namespace: 'bench' })));

const pct = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
const ms = (ns) => (ns / 1e6).toFixed(3);
function summary(name, samples, elapsedNs, cpuSeconds) {
  const s = Float64Array.from(samples).sort();
  return {
    name,
    reviews: s.length,
    perSecond: Math.round(s.length / (elapsedNs / 1e9)),
    p50: ms(pct(s, 0.5)),
    p99: ms(pct(s, 0.99)),
    max: ms(s[s.length - 1]),
    // CPU spent per review by the process answering (wall-clock figures suffer on a shared machine; this does not).
    cpu: ((cpuSeconds * 1000) / s.length).toFixed(3),
  };
}

// 1. In process.
const cfg = defaultInjectorConfig();
for (let i = 0; i < 500; i++) answerReview(body, 'namespace', cfg); // warm-up
const inproc = [];
const cpu0 = process.cpuUsage();
let start = process.hrtime.bigint();
const end = start + BigInt(seconds * 1e9);
for (let now = start; now < end; ) {
  const t = process.hrtime.bigint();
  const r = answerReview(body, 'namespace', cfg);
  now = process.hrtime.bigint();
  if (r.outcome !== 'injected') throw new Error('not injected');
  inproc.push(Number(now - t));
}
const cpu1 = process.cpuUsage(cpu0);
const results = [summary('in process (answerReview)', inproc, Number(process.hrtime.bigint() - start), (cpu1.user + cpu1.system) / 1e6)];

// 2. Over HTTPS, the injector as its own process.
const tmp = mkdtempSync(join(tmpdir(), 'tlsmesh-bench-'));
const ca = makeCa(join(tmp, 'ca'));
const leaf = issueLeaf(ca, { sans: ['DNS:tlsmesh-injector.tlsmesh-system.svc'], usage: 'server' });
writeSecretDir(join(tmp, 'tls'), { 'tls.crt': leaf.certPem, 'tls.key': leaf.keyPem, 'ca.crt': ca.certPem });
writeFileSync(join(tmp, 'injector.yaml'), `listen: 127.0.0.1:0\ntls:\n  dir: ${join(tmp, 'tls')}\nlogLevel: info\n`);
const proc = startCli(['injector', '--config', join(tmp, 'injector.yaml')]);
try {
  const port = (await proc.waitFor((e) => e.msg === 'injector listening')).port;
  for (const concurrency of [1, 8]) {
    const agent = new Agent({ keepAlive: true, maxSockets: concurrency, ca: ca.certPem, servername: 'tlsmesh-injector.tlsmesh-system.svc' });
    const post = () =>
      new Promise((resolve, reject) => {
        const t = process.hrtime.bigint();
        const req = request({ host: '127.0.0.1', port, path: '/inject', method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': body.length } }, (res) => {
          const chunks = [];
          res.on('data', (c) => chunks.push(c));
          res.on('end', () => {
            if (res.statusCode !== 200 || !Buffer.concat(chunks).includes('"patchType"')) reject(new Error(`bad answer ${res.statusCode}`));
            else resolve(Number(process.hrtime.bigint() - t));
          });
        });
        req.on('error', reject);
        req.end(body);
      });
    const serverCpu = () =>
      new Promise((resolve, reject) => {
        request({ host: '127.0.0.1', port, path: '/metrics', agent, method: 'GET' }, (res) => {
          let text = '';
          res.setEncoding('utf8').on('data', (d) => (text += d));
          res.on('end', () => resolve(Number(/^process_cpu_seconds_total (\S+)$/m.exec(text)?.[1])));
        })
          .on('error', reject)
          .end();
      });
    for (let i = 0; i < 300; i++) await post(); // warm-up, connections open
    const cpuBefore = await serverCpu();
    const samples = [];
    const t0 = process.hrtime.bigint();
    const stop = t0 + BigInt(seconds * 1e9);
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (process.hrtime.bigint() < stop) samples.push(await post());
      }),
    );
    const elapsed = Number(process.hrtime.bigint() - t0);
    results.push(summary(`HTTPS keep-alive, concurrency ${concurrency}`, samples, elapsed, (await serverCpu()) - cpuBefore));
    agent.destroy();
  }
} finally {
  await proc.stop();
  rmSync(tmp, { recursive: true, force: true });
}

console.log(`webhook benchmark: 10-container pod, review ${body.length} bytes, ${seconds} s per run, node ${process.version}`);
console.log(`load average before: ${loadBefore.map((l) => l.toFixed(2)).join(' ')}, after: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')} (${os.cpus().length} CPUs)`);
console.log('| run | reviews | reviews/s | p50 ms | p99 ms | max ms | server CPU ms/review |');
console.log('| --- | --- | --- | --- | --- | --- | --- |');
for (const r of results) console.log(`| ${r.name} | ${r.reviews} | ${r.perSecond} | ${r.p50} | ${r.p99} | ${r.max} | ${r.cpu} |`);

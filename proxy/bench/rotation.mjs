#!/usr/bin/env node
// Rotation latency and rotation memory of one sidecar (docs/benchmarks.md).
// Not a test: nothing here asserts a timing; it prints what it measured.
//
//   node bench/rotation.mjs [--rotations 50] [--churn 1000] [--json FILE]
//
// 1. Latency: `--rotations` times, swap a new identity into the Secret
//    directory with kubelet's atomic-writer steps (new `..<timestamp>` folder,
//    `..data_tmp` symlink renamed over `..data`), then open fresh mTLS
//    connections (no session resumption, so the server presents its
//    certificate) until one presents the new serial. Latency = first such
//    handshake minus the rename. Prints median and worst.
// 2. Memory: RSS of the sidecar before and after `--churn` more rotations.
//
// Identities come from the dev issuer (`tlsmesh ca`), issued up front and
// cycled so that consecutive ones always differ. Needs `npm run build`.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { parseArgs } from 'node:util';
import { BIN, TD, cli, freePort, readyOnce } from './lib.mjs';

const { values: opt } = parseArgs({
  options: {
    rotations: { type: 'string', default: '50' },
    churn: { type: 'string', default: '1000' },
    identities: { type: 'string', default: '4' },
    json: { type: 'string' },
  },
});
const SERVER_ID = `spiffe://${TD}/ns/default/sa/server`;
const CLIENT_ID = `spiffe://${TD}/ns/default/sa/client`;
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'tlsmesh-rotation-'));


// ---- identities ----
cli('ca', 'init', '--dir', path.join(work, 'ca'), '--trust-domain', TD);
const issued = [];
for (let i = 0; i < Number(opt.identities); i++) {
  const out = path.join(work, `issued-${i}`);
  cli('ca', 'issue', '--ca', path.join(work, 'ca'), '--spiffe-id', SERVER_ID, '--out', out);
  const files = Object.fromEntries(['tls.crt', 'tls.key', 'ca.crt'].map((f) => [f, fs.readFileSync(path.join(out, f))]));
  issued.push({ files, serial: new (await import('node:crypto')).X509Certificate(files['tls.crt']).serialNumber.toLowerCase() });
}
const clientDir = path.join(work, 'client');
cli('ca', 'issue', '--ca', path.join(work, 'ca'), '--spiffe-id', CLIENT_ID, '--out', clientDir);
const clientCtx = tls.createSecureContext({
  cert: fs.readFileSync(path.join(clientDir, 'tls.crt')),
  key: fs.readFileSync(path.join(clientDir, 'tls.key')),
});

// ---- the Secret directory, written the way kubelet's atomic writer does ----
const secret = path.join(work, 'secret');
fs.mkdirSync(secret);
let swaps = 0;
/** Swap identity `i` in; returns the time of the `..data` rename (performance.now()). */
function swapIn(i) {
  const old = fs.existsSync(path.join(secret, '..data')) ? fs.readlinkSync(path.join(secret, '..data')) : undefined;
  const ts = `..${new Date().toISOString().replace(/[-:T]/g, '_').replace(/\..*/, '')}.${String(++swaps).padStart(9, '0')}`;
  fs.mkdirSync(path.join(secret, ts));
  for (const [name, data] of Object.entries(issued[i].files)) fs.writeFileSync(path.join(secret, ts, name), data);
  fs.symlinkSync(ts, path.join(secret, '..data_tmp'));
  fs.renameSync(path.join(secret, '..data_tmp'), path.join(secret, '..data'));
  const at = performance.now();
  for (const name of Object.keys(issued[i].files)) {
    if (!fs.existsSync(path.join(secret, name))) fs.symlinkSync(`..data/${name}`, path.join(secret, name));
  }
  if (old) fs.rmSync(path.join(secret, old), { recursive: true, force: true });
  return at;
}

// ---- the sidecar: one inbound tcp listener to a local sink ----
const sink = net.createServer((s) => s.resume()).listen(0, '127.0.0.1');
await once(sink, 'listening');
const [inPort, adminPort] = [await freePort(), await freePort()];
swapIn(0);
const cfg = path.join(work, 'sidecar.yaml');
fs.writeFileSync(
  cfg,
  `trustDomain: ${TD}
logLevel: warn
identity:
  dir: ${secret}
admin:
  listen: 127.0.0.1:${adminPort}
inbound:
  - listen: 127.0.0.1:${inPort}
    forward: 127.0.0.1:${sink.address().port}
    protocol: tcp
    allow: [ ${CLIENT_ID} ]
`,
);
const child = spawn(process.execPath, [BIN, 'proxy', '--config', cfg], { stdio: ['ignore', 'ignore', 'inherit'] });
const stop = () => {
  child.kill('SIGTERM');
  sink.close();
  fs.rmSync(work, { recursive: true, force: true });
};
process.on('exit', () => child.kill('SIGKILL'));

async function ready() {
  while (!(await readyOnce(adminPort))) await new Promise((r) => setTimeout(r, 20));
}

/** The serial the listener presents in a fresh (never resumed) handshake. */
function presented() {
  return new Promise((resolve) => {
    const s = tls.connect({ port: inPort, host: '127.0.0.1', secureContext: clientCtx, rejectUnauthorized: false, minVersion: 'TLSv1.3' }, () => {
      const serial = s.getPeerCertificate().serialNumber?.toLowerCase();
      s.destroy();
      resolve(serial);
    });
    s.on('error', () => resolve(undefined));
  });
}

function rssKb() {
  const m = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${child.pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

async function waitFor(serial, deadlineMs = 10_000) {
  const start = performance.now();
  for (;;) {
    if ((await presented()) === serial) return performance.now();
    if (performance.now() - start > deadlineMs) throw new Error(`serial ${serial} not presented within ${deadlineMs} ms`);
  }
}

await ready();
await waitFor(issued[0].serial);
let current = 0;
const next = () => (current = (current + 1) % issued.length);

// ---- 1. latency ----
const latencies = [];
for (let r = 0; r < Number(opt.rotations); r++) {
  const i = next();
  const at = swapIn(i);
  const seen = await waitFor(issued[i].serial);
  latencies.push(seen - at);
  await new Promise((res) => setTimeout(res, 50));
}
latencies.sort((a, b) => a - b);
const median = latencies[Math.floor((latencies.length - 1) / 2)];
const worst = latencies[latencies.length - 1];

// ---- 2. memory over many rotations ----
await new Promise((r) => setTimeout(r, 1000));
const rssBefore = rssKb();
const churnStart = performance.now();
for (let r = 0; r < Number(opt.churn); r++) {
  const i = next();
  swapIn(i);
  await waitFor(issued[i].serial);
}
const churnSeconds = (performance.now() - churnStart) / 1000;
await new Promise((r) => setTimeout(r, 2000));
const rssAfter = rssKb();

const result = {
  date: new Date().toISOString(),
  rotations: latencies.length,
  latencyMs: { median: Math.round(median * 10) / 10, worst: Math.round(worst * 10) / 10, all: latencies.map((l) => Math.round(l * 10) / 10) },
  churn: { rotations: Number(opt.churn), seconds: Math.round(churnSeconds * 10) / 10, rssKbBefore: rssBefore, rssKbAfter: rssAfter },
};
console.log(`rotation: rename of ..data -> first handshake presenting the new certificate, ${latencies.length} rotations: median ${result.latencyMs.median} ms, worst ${result.latencyMs.worst} ms`);
console.log(`rotation: RSS ${Math.round(rssBefore / 1024)} MiB before and ${Math.round(rssAfter / 1024)} MiB after ${opt.churn} more rotations (${result.churn.seconds} s)`);
if (opt.json) fs.writeFileSync(opt.json, `${JSON.stringify(result, null, 2)}\n`);
stop();

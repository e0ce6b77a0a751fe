#!/usr/bin/env node
// Startup-to-ready time and idle RSS of one sidecar (docs/benchmarks.md).
// Not a test: nothing here asserts a timing; it prints what it measured.
//
//   node bench/startup.mjs [--runs 10] [--json FILE] [-- NODE_FLAGS...]
//
// Each run spawns `node BIN proxy --config FILE` (the way the bench and the
// injected sidecar start it; BIN is $TLSMESH_BIN, else package.json's bin)
// with one inbound and one outbound listener and a valid identity, and polls /healthz/ready every 2 ms: ready
// time = first 200 minus spawn. CPU to ready = the sidecar's user + system time
// when that 200 arrives (/proc/PID/stat, 10 ms ticks): unlike the wall clock
// it barely moves with the machine's load. Idle RSS = VmRSS 2 s after ready.
// Prints the median and worst, and `node -e 0` on the same machine for scale.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { BIN, TD, cli, freePort, readyOnce } from './lib.mjs';

const { values: opt, positionals: nodeFlags } = parseArgs({
  options: { runs: { type: 'string', default: '10' }, json: { type: 'string' } },
  allowPositionals: true,
});
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'tlsmesh-startup-'));



cli('ca', 'init', '--dir', path.join(work, 'ca'), '--trust-domain', TD);
cli('ca', 'issue', '--ca', path.join(work, 'ca'), '--spiffe-id', `spiffe://${TD}/ns/default/sa/app`, '--out', path.join(work, 'id'));

const readyMs = [];
const rssKb = [];
const cpuMs = [];
/** User + system CPU of a process so far, in ms (fields 14 and 15 of /proc/PID/stat, in ticks of 1/100 s on Linux). */
const cpuOf = (pid) => {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * (1000 / 100);
};
for (let r = 0; r < Number(opt.runs); r++) {
  const [inPort, outPort, adminPort] = [await freePort(), await freePort(), await freePort()];
  const cfg = path.join(work, `sidecar-${r}.yaml`);
  fs.writeFileSync(
    cfg,
    `trustDomain: ${TD}
identity:
  dir: ${path.join(work, 'id')}
admin:
  listen: 127.0.0.1:${adminPort}
inbound:
  - listen: 127.0.0.1:${inPort}
    forward: 127.0.0.1:8080
    protocol: http
outbound:
  - listen: 127.0.0.1:${outPort}
    connect: 127.0.0.1:15006
    protocol: http
`,
  );
  const t0 = performance.now();
  const child = spawn(process.execPath, [...nodeFlags, BIN, 'proxy', '--config', cfg], { stdio: 'ignore' });
  while (!(await readyOnce(adminPort))) {
    if (child.exitCode !== null) throw new Error(`the sidecar exited with ${child.exitCode}`);
    await new Promise((res) => setTimeout(res, 2));
  }
  readyMs.push(performance.now() - t0);
  cpuMs.push(cpuOf(child.pid));
  await new Promise((res) => setTimeout(res, 2000));
  const m = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${child.pid}/status`, 'utf8'));
  rssKb.push(Number(m?.[1]));
  child.kill('SIGTERM');
  await new Promise((res) => child.once('exit', res));
}

const bare = [];
for (let r = 0; r < 5; r++) {
  const t = performance.now();
  execFileSync(process.execPath, ['-e', '0']);
  bare.push(performance.now() - t);
}
const med = (a) => [...a].sort((x, y) => x - y)[Math.floor((a.length - 1) / 2)];
const result = {
  date: new Date().toISOString(),
  nodeFlags,
  runs: readyMs.length,
  readyMs: { median: Math.round(med(readyMs)), worst: Math.round(Math.max(...readyMs)), all: readyMs.map(Math.round) },
  cpuToReadyMs: { median: med(cpuMs), all: cpuMs },
  idleRssKb: { median: med(rssKb), all: rssKb },
  nodeE0Ms: Math.round(med(bare)),
  loadavg: os.loadavg()[0],
};
console.log(`startup: spawn -> /healthz/ready 200, ${readyMs.length} runs: median ${result.readyMs.median} ms, worst ${result.readyMs.worst} ms (node -e 0: ${result.nodeE0Ms} ms; load ${result.loadavg.toFixed(1)})`);
console.log(`startup: CPU (user + system) of the sidecar up to ready: median ${result.cpuToReadyMs.median} ms`);
console.log(`startup: idle RSS of one sidecar 2 s after ready: median ${Math.round(result.idleRssKb.median / 1024)} MiB`);
if (opt.json) fs.writeFileSync(opt.json, `${JSON.stringify(result, null, 2)}\n`);
fs.rmSync(work, { recursive: true, force: true });

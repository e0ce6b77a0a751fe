#!/usr/bin/env node
// Several tlsmesh sidecar processes behind each listening socket, for the
// bench only: what a `concurrency` setting built on node:cluster would give
// (docs/benchmarks.md, "Several processes per sidecar"). Not shipped.
//
//   TLSMESH_WORKERS=2 node bench/cluster-bin.mjs proxy --config FILE
//
// The primary forks TLSMESH_WORKERS (default 2) copies of the bundle with the
// same arguments; with SCHED_NONE each listen() in a worker shares one socket
// that every worker accepts from (the kernel spreads the connections), instead
// of the primary accepting and passing each connection on. To run it under
// ../shared/bench/run, give the harness a project directory whose
// package.json names this file as bin.tlsmesh, beside dist/bundle and
// node_modules (the steps are in docs/benchmarks.md).
import cluster from 'node:cluster';
import { fileURLToPath } from 'node:url';

const workers = Number(process.env.TLSMESH_WORKERS ?? 2);
cluster.schedulingPolicy = cluster.SCHED_NONE;
cluster.setupPrimary({ exec: fileURLToPath(new URL('../../dist/bundle/tlsmesh.mjs', import.meta.url)), args: process.argv.slice(2) });
for (let i = 0; i < workers; i++) cluster.fork();
const stop = (signal) => {
  for (const w of Object.values(cluster.workers ?? {})) w?.process.kill(signal);
};
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));
cluster.on('exit', () => {
  if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
});

// What the proxy benchmarks share: where the built binary is, running it, a
// free port, and one readiness probe. Benchmarks print; they assert nothing.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** package.json's bin (the bundle `npm run build` makes), or $TLSMESH_BIN. */
export const BIN = process.env.TLSMESH_BIN ?? path.join(ROOT, JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).bin.tlsmesh);
export const TD = 'bench.local';

/** Run `tlsmesh ARGS...` to completion (the dev issuer, mostly). */
export const cli = (...args) => execFileSync(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });

export function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** One GET /healthz/ready on the admin port: true when it answers 200. */
export function readyOnce(port) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => s.end('GET /healthz/ready HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
    let d = '';
    s.on('data', (c) => (d += c));
    s.on('close', () => resolve(d.startsWith('HTTP/1.1 200')));
    s.on('error', () => resolve(false));
  });
}

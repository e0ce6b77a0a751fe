// `tlsmesh wait-ready`, the postStart hook of container mode: it returns 0 once
// the readiness endpoint answers 200, and 1 with one line when it never does.
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { MAIN } from '../../injector/src/testing/process.js';

let server: Server | undefined;
afterEach(() => new Promise<void>((r) => (server ? server.close(() => r()) : r())));

function serve(answer: () => number): Promise<{ url: string; hits: () => number }> {
  let hits = 0;
  server = createServer((_req, res) => {
    hits++;
    res.writeHead(answer()).end();
  });
  return new Promise((resolve) => server!.listen(0, '127.0.0.1', () => resolve({ url: `http://127.0.0.1:${(server!.address() as AddressInfo).port}/healthz/ready`, hits: () => hits })));
}

function waitReady(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [MAIN, 'wait-ready', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('exit', (code) => resolve({ code, stderr }));
  });
}

describe('tlsmesh wait-ready', () => {
  it('returns 0 once the endpoint turns ready', async () => {
    let n = 0;
    const s = await serve(() => (++n >= 3 ? 200 : 503));
    expect(await waitReady(['--url', s.url, '--timeout', '30s'])).toEqual({ code: 0, stderr: '' });
    expect(s.hits()).toBe(3);
  });

  it('returns 1 with one line when it never does', async () => {
    const s = await serve(() => 503);
    const r = await waitReady(['--url', s.url, '--timeout', '1s']);
    expect(r.code).toBe(1);
    // The last answer is 503, or a timed-out attempt on a loaded machine.
    expect(r.stderr).toMatch(new RegExp(`^wait-ready: ${s.url.replace(/[.?]/g, '\\$&')} not ready after 1s \\(last: (503|timed out)\\)\n$`));
  });

  it('refuses a bad --timeout with exit 2', async () => {
    expect(await waitReady(['--timeout', 'soon'])).toEqual({ code: 2, stderr: 'wait-ready: --timeout: expected a duration like 30s or 2m, got "soon"\n' });
  });
});

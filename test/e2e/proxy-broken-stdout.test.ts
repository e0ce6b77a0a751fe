// SIGTERM ends the proxy (drain, then exit 0) even when nobody reads its
// stdout any more: the log lines it writes at shutdown must not hold it.
//
// Found by `tlsmesh demo` (its children outlived a SIGKILLed demo): with a
// broken stdout pipe, the flush at shutdown (log.ts flushLogger ->
// sonic-boom 4.2.1 flushSync) gets EPIPE and retries every 100 ms for ever:
// flushSync only gives up on EAGAIN/EBUSY when retryEAGAIN says so and
// loops on any other error. The main thread blocks in that loop, the process
// never exits. log.ts now closes the log before exit instead.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ca, identity, tempDir, writeSecret } from '../support/pki.js';
import { httpGet } from '../support/mesh.js';
import { CLI, eventually, freePorts, writeYaml } from '../support/processes.js';

const TD = 'cluster.local';
const tmp = tempDir();
let config: string;
let admin: number;
const pids: number[] = [];

beforeAll(async () => {
  const root = await ca({ trustDomain: TD });
  await writeSecret(join(tmp.dir, 'id'), (await identity(root, `spiffe://${TD}/ns/default/sa/backend`)).files);
  const [listen, adminPort] = await freePorts(2);
  admin = adminPort!;
  config = writeYaml(
    tmp.dir,
    'proxy.yaml',
    `trustDomain: ${TD}\ndrainSeconds: 1\nidentity: { dir: ${join(tmp.dir, 'id')} }\nadmin: { listen: 127.0.0.1:${admin} }\ninbound:\n  - { listen: 127.0.0.1:${listen}, forward: 127.0.0.1:9 }\n`,
  );
});

afterAll(() => {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  tmp.cleanup();
});

describe('a proxy whose stdout reader has gone', () => {
  it('still exits on SIGTERM', async () => {
    const child = spawn(process.execPath, [CLI, 'proxy', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
    pids.push(child.pid!);
    const exited = new Promise<number | string>((r) => child.once('exit', (code, signal) => r(code ?? signal ?? -1)));
    child.stderr.resume();
    child.stdout.resume();
    await eventually(async () => (await httpGet(`http://127.0.0.1:${admin}/healthz/ready`)).status === 200, 'the proxy ready');
    child.stdout.destroy(); // nobody reads its stdout any more: its next write gets EPIPE
    child.kill('SIGTERM');
    const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r('still running 15 s after SIGTERM'), 15_000))]);
    expect(code).toBe(0);
  });
});

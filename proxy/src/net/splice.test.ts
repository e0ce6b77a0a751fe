// splice between real sockets on 127.0.0.1: a client ↔ [a | splice | b] ↔ a server.
import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually } from '../../../test/support/processes.js';
import { socketPairs } from '../../../test/support/socket-pair.js';
import { splice, type SpliceResult } from './splice.js';

const pairs = socketPairs({ allowHalfOpen: true });
afterEach(() => pairs.cleanup());
const pair = () => pairs.pair();

/** client ↔ a, b ↔ server, spliced; resolves with splice's result. */
async function spliced(coalesce: boolean) {
  const [left, right] = await Promise.all([pair(), pair()]);
  const result = new Promise<SpliceResult>((r) => splice(left.far, right.far, r, { coalesce }));
  return { client: left.near, server: right.near, a: left.far, b: right.far, result };
}

function payload(bytes: number): Buffer {
  const b = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i += 4) b.writeUInt32LE((i * 2654435761) >>> 0, i);
  return b;
}

describe.each([false, true])('splice (coalesce: %s)', (coalesce) => {
  it('carries 16 MiB each way unchanged and passes each FIN on while the other way stays open', async () => {
    const { client, server, result } = await spliced(coalesce);
    const up = payload(16 << 20);
    const down = payload(16 << 20).reverse();
    const got = { server: [] as Buffer[], client: [] as Buffer[] };
    server.on('data', (d: Buffer) => got.server.push(d));
    client.on('data', (d: Buffer) => got.client.push(d));
    const serverEnded = new Promise((r) => server.once('end', r));
    const clientEnded = new Promise((r) => client.once('end', r));
    client.end(up);
    await serverEnded;
    // The client's FIN arrived; the server still answers on the open half.
    server.end(down);
    await clientEnded;
    const sha = (b: Buffer[]) => createHash('sha256').update(Buffer.concat(b)).digest('hex');
    expect(sha(got.server)).toBe(createHash('sha256').update(up).digest('hex'));
    expect(sha(got.client)).toBe(createHash('sha256').update(down).digest('hex'));
    client.destroy();
    server.destroy();
    expect((await result).error).toBeUndefined();
  });

  it('holds the sender back while the receiver does not read, then lets it all through', async () => {
    const { client, server, a, b } = await spliced(coalesce);
    server.pause();
    const chunk = Buffer.alloc(64 * 1024, 1);
    let sent = 0;
    let stop = false;
    const pump = () => {
      if (stop) return;
      while (client.write(chunk)) sent += chunk.length;
      sent += chunk.length;
      client.once('drain', pump);
    };
    pump();
    // Once the far side's kernel buffers are full, splice must stop reading the sender: without that, `a` would
    // never pause and splice would buffer the sender's bytes in memory without end.
    await eventually(() => a.isPaused(), 'splice to pause the sending side');
    stop = true;
    expect(b.writableLength).toBeLessThanOrEqual(256 * 1024 + chunk.length);
    let received = 0;
    server.on('data', (d: Buffer) => (received += d.length));
    server.resume();
    await eventually(() => received === sent, 'everything sent to arrive');
  });
});

// tlsmesh-mux/2 between real sockets on 127.0.0.1: a client FrameSession on
// one end of a TCP connection, a server FrameSession (or raw bytes from the
// test) on the other. The sessions use only what TLS and plain sockets share.
import { createHash } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually } from '../../../test/support/processes.js';
import { socketPairs } from '../../../test/support/socket-pair.js';
import { FrameSession, type FrameStream, RESET_REFUSED, STREAM_WINDOW } from './frames.js';

/** Poll an assertion until it holds (10 s). */
const until = (check: () => unknown) => eventually(async () => (await check(), true), 'the assertion to hold');

const pairs = socketPairs();
afterEach(() => pairs.cleanup());
const pair = () => pairs.pair();

/** A client session and a server session over one connection; `streams` collects what the server end gets. */
async function sessions() {
  const { near, far } = await pair();
  const client = new FrameSession(near as TLSSocket, 'client');
  const server = new FrameSession(far as TLSSocket, 'server');
  const errors: Error[] = [];
  client.on('error', (e: Error) => errors.push(e));
  server.on('error', (e: Error) => errors.push(e));
  const streams: FrameStream[] = [];
  server.on('stream', (s: FrameStream) => streams.push(s));
  return { client, server, near, far, streams, errors };
}

/** The server end answers every stream 200 and echoes it (half-close included). */
function echo(server: FrameSession): void {
  server.on('stream', (s: FrameStream) => {
    s.respond({ ':status': 200 });
    s.pipe(s);
  });
}

function payload(bytes: number, seed = 1): Buffer {
  const b = Buffer.alloc(bytes);
  for (let i = 0; i + 4 <= bytes; i += 4) b.writeUInt32LE(((i + seed) * 2654435761) >>> 0, i);
  return b;
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function collect(s: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  s.on('data', (d: Buffer) => parts.push(d));
  return new Promise((resolve) => s.once('end', () => resolve(Buffer.concat(parts))));
}

function status(s: FrameStream): Promise<number> {
  return new Promise((r) => s.once('response', (h: { ':status': number }) => r(h[':status'])));
}

/** A frame as the protocol lays it out. */
function frame(type: number, id: number, p: Buffer = Buffer.alloc(0)): Buffer {
  const h = Buffer.alloc(9);
  h.writeUInt32BE(p.length, 0);
  h[4] = type;
  h.writeUInt32BE(id, 5);
  return Buffer.concat([h, p]);
}

describe('FrameSession', () => {
  it('carries 40 streams of up to 4 MiB each both ways unchanged, past the window, with half-close', async () => {
    const { client, server, errors } = await sessions();
    echo(server);
    const sizes = Array.from({ length: 40 }, (_, i) => (i % 4 === 0 ? 4 << 20 : 1 + ((i * 7919) % 70_000)));
    await Promise.all(
      sizes.map(async (size, i) => {
        const s = client.request({ ':method': 'CONNECT', ':authority': 'x' }, { endStream: false });
        expect(await status(s)).toBe(200);
        const sent = payload(size, i);
        const got = collect(s);
        s.end(sent);
        expect(sha(await got)).toBe(sha(sent));
      }),
    );
    expect(errors).toEqual([]);
    // Every stream ended both ways is forgotten by both ends.
    await until(() => expect([(client as unknown as { streams: Map<number, unknown> }).streams.size, (server as unknown as { streams: Map<number, unknown> }).streams.size]).toEqual([0, 0]));
  });

  it.each([false, true])('lets a writer reuse its buffer once the write callback came (corked: %s)', async (corked) => {
    const { client, server } = await sessions();
    echo(server);
    const s = client.request({ ':method': 'CONNECT', ':authority': 'x' }, { endStream: false });
    expect(await status(s)).toBe(200);
    const got = collect(s);
    // One 8 KiB buffer, refilled for each write as soon as its callback says it may be (the engine's stages do this).
    const stage = Buffer.alloc(8192);
    const expected: Buffer[] = [];
    for (let i = 0; i < 200; i++) {
      const pieces = corked ? 3 : 1;
      const writes: Promise<void>[] = [];
      if (corked) s.cork();
      for (let k = 0; k < pieces; k++) {
        // Pieces side by side in the one buffer: 3,000 and 3,000 bytes (referenced by their frames until written), then 500 (copied).
        const at = [0, 3000, 6000][k]!;
        const part = stage.subarray(at, at + (k === 2 ? 500 : 3000));
        part.fill((i * 7 + k) & 0xff);
        expected.push(Buffer.from(part));
        writes.push(new Promise((r) => s.write(part, () => r())));
      }
      if (corked) s.uncork();
      await Promise.all(writes);
    }
    s.end();
    expect(sha(await got)).toBe(sha(Buffer.concat(expected)));
  });

  it('holds a sender at the window while nobody reads, and lets it go on when the reader does', async () => {
    const { client, streams } = await sessions();
    const s = client.request({ ':method': 'CONNECT', ':authority': 'x' }, { endStream: false });
    await until(() => expect(streams).toHaveLength(1));
    const far = streams[0]!;
    far.respond({ ':status': 200 });
    far.pause();
    const sent = payload(3 * STREAM_WINDOW);
    let finished = false;
    s.end(sent, () => (finished = true));
    // The receiver holds the window's worth and no more; the rest waits at the sender.
    await until(() => expect(far.readableLength).toBe(STREAM_WINDOW));
    expect(finished).toBe(false);
    expect(s.writableLength).toBeGreaterThan(0);
    const got = collect(far);
    far.resume();
    expect(sha(await got)).toBe(sha(sent));
    await until(() => expect(finished).toBe(true));
  });

  it('passes a reset on: the other end closes with the code, and the stream is forgotten', async () => {
    const { client, server, streams } = await sessions();
    const s = client.request({ ':method': 'CONNECT', ':authority': 'x' }, { endStream: false });
    await until(() => expect(streams).toHaveLength(1));
    const far = streams[0]!;
    far.respond({ ':status': 200 });
    expect(await status(s)).toBe(200);
    const closed = new Promise((r) => far.once('close', r));
    far.on('error', () => {});
    s.destroy();
    await closed;
    expect(far.rstCode).toBe(8);
    expect(far.readableEnded).toBe(false);
    await until(() => expect((server as unknown as { streams: Map<number, unknown> }).streams.size).toBe(0));
  });

  it('answers a failure status and closes the stream without more frames', async () => {
    const { client, server } = await sessions();
    server.on('stream', (st: FrameStream) => st.respond({ ':status': 502 }, { endStream: true }));
    const s = client.request({ ':method': 'CONNECT', ':authority': 'x' }, { endStream: false });
    expect(await status(s)).toBe(502);
    s.destroy();
    await new Promise((r) => s.once('close', r));
    expect(s.rstCode).toBeUndefined();
  });

  it('after GOAWAY: open streams finish, a new one is refused with REFUSED_STREAM, and the carrier closes once idle', async () => {
    const { client, server, near } = await sessions();
    echo(server);
    const s = client.request({ ':method': 'CONNECT', ':authority': 'x' }, { endStream: false });
    expect(await status(s)).toBe(200);
    const goaway = new Promise((r) => client.once('goaway', r));
    server.close();
    await goaway;
    expect(client.closed).toBe(true);
    expect(() => client.request({ ':method': 'CONNECT', ':authority': 'x' }, { endStream: false })).toThrow(/closed/);
    // The open stream still works.
    const got = collect(s);
    s.end('still here');
    expect((await got).toString()).toBe('still here');
    await new Promise((r) => near.once('close', r));
    expect(client.destroyed).toBe(true);
  });

  it('refuses an OPEN that arrives after its GOAWAY with REFUSED_STREAM, and closes once the open stream ends', async () => {
    const { near, far } = await pair();
    const server = new FrameSession(far as TLSSocket, 'server');
    const streams: FrameStream[] = [];
    server.on('stream', (s: FrameStream) => streams.push(s));
    const got: Buffer[] = [];
    near.on('data', (d: Buffer) => got.push(d));
    near.write(frame(1, 1));
    await until(() => expect(streams).toHaveLength(1));
    server.close();
    near.write(frame(1, 3));
    await until(() => expect(Buffer.concat(got).length).toBeGreaterThanOrEqual(9 + 4 + 9 + 4));
    const b = Buffer.concat(got);
    // GOAWAY (last stream 1), then RESET of stream 3 with REFUSED_STREAM.
    expect([b[4], b.readUInt32BE(9)]).toEqual([6, 1]);
    expect([b[13 + 4], b.readUInt32BE(13 + 5), b.readUInt32BE(13 + 9)]).toEqual([4, 3, RESET_REFUSED]);
    // Stream 1 ends both ways: the carrier closes.
    const ended = new Promise((r) => near.once('end', r));
    streams[0]!.on('data', () => {});
    streams[0]!.end();
    near.write(frame(3, 1));
    await ended;
  });

  it('reads frames split anywhere: one byte per write', async () => {
    const { near, far } = await pair();
    const server = new FrameSession(far as TLSSocket, 'server');
    const streams: FrameStream[] = [];
    server.on('stream', (s: FrameStream) => streams.push(s));
    const bytes = Buffer.concat([frame(1, 1), frame(0, 1, Buffer.from('hello, ')), frame(7, 0, Buffer.alloc(8, 1)), frame(0, 1, payload(3000)), frame(3, 1)]);
    near.setNoDelay(true);
    for (let i = 0; i < bytes.length; i++) {
      near.write(bytes.subarray(i, i + 1));
      if (i % 97 === 0) await new Promise((r) => setImmediate(r));
    }
    await until(() => expect(streams).toHaveLength(1));
    const got = await collect(streams[0]!);
    expect(sha(got)).toBe(sha(Buffer.concat([Buffer.from('hello, '), payload(3000)])));
  });

  it('answers PING with PONG', async () => {
    const { client, server } = await sessions();
    const r = await new Promise<Error | null>((resolve) => expect(client.ping(resolve)).toBe(true));
    expect(r).toBeNull();
    server.destroy();
    await new Promise((resolve) => client.once('close', resolve));
    expect(client.ping(() => {})).toBe(false);
  });

  it.each([
    ['an unknown frame type', frame(9, 1)],
    ['a control frame of the wrong length', frame(4, 1, Buffer.alloc(3))],
    ['DATA on a stream never opened', frame(0, 5, Buffer.from('x'))],
    ['DATA larger than the window', (() => { const f = frame(0, 1); f.writeUInt32BE(STREAM_WINDOW + 1, 0); return f; })()],
    ['OPEN of a stream id not above the last', Buffer.concat([frame(1, 2), frame(1, 2)])],
    ['a WINDOW of zero', Buffer.concat([frame(1, 1), frame(5, 1, Buffer.alloc(4))])],
    ['OPENED sent to the inbound end', Buffer.concat([frame(1, 1), frame(2, 1, Buffer.from([0, 200]))])],
  ])('closes the carrier on %s, with an error that says so', async (_what, bytes) => {
    const { near, far } = await pair();
    const server = new FrameSession(far as TLSSocket, 'server');
    const errors: Error[] = [];
    server.on('error', (e: Error) => errors.push(e));
    server.on('stream', (s: FrameStream) => s.on('error', () => {}));
    const closed = new Promise((r) => near.once('close', r));
    near.on('data', () => {});
    near.write(bytes);
    await closed;
    expect(errors).toHaveLength(1);
    expect(server.destroyed).toBe(true);
  });

  it('closes the carrier when DATA goes beyond what was granted', async () => {
    const { near, far } = await pair();
    const server = new FrameSession(far as TLSSocket, 'server');
    const errors: Error[] = [];
    server.on('error', (e: Error) => errors.push(e));
    server.on('stream', (s: FrameStream) => {
      s.on('error', () => {});
      s.pause();
    });
    const closed = new Promise((r) => near.once('close', r));
    near.on('data', () => {});
    near.write(frame(1, 1));
    near.write(frame(0, 1, Buffer.alloc(STREAM_WINDOW)));
    near.write(frame(0, 1, Buffer.alloc(1)));
    await closed;
    expect(errors.map((e) => e.message)).toEqual(['stream 1 sent beyond its window']);
  });
});

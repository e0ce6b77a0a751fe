// The h1 engine between a raw client socket and a scripted upstream, in one
// process: keep-alive and pooling, hop-by-hop Connection handling, framing,
// pipelining, upgrades, failures and the keep-alive race.
import { once } from 'node:events';
import net, { type AddressInfo, type Socket } from 'node:net';
import tls from 'node:tls';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import pino from 'pino';
import { createMetrics } from '../../metrics.js';
import { ConnTracker } from '../../net/tracker.js';
import { createHash } from 'node:crypto';
import { noiseBody, oddPieces, rawGet } from '../../../../test/support/mesh.js';
import { ca, identity } from '../../../../test/support/pki.js';
import { eventually } from '../../../../test/support/processes.js';
import { upstreamOnRead } from './borrowed-read.js';
import { H1Engine, type Route } from './engine.js';
import { stageAllocations } from './flow.js';
import { SocketPool } from './pool.js';

interface Upstream {
  port: number;
  accepted: number;
  /** Every request head the upstream saw, in order, and its body. */
  heads: string[];
  bodies: string[];
  close(): Promise<void>;
}

type Answer = (head: string, body: Buffer, s: Socket) => void;

/** An HTTP upstream that reads Content-Length/chunked-less requests and answers with `answer`. */
async function upstream(answer: Answer): Promise<Upstream> {
  const sockets = new Set<Socket>();
  const u: Upstream = { port: 0, accepted: 0, heads: [], bodies: [], close: async () => {} };
  const server = net.createServer((s) => {
    u.accepted += 1;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    let buf = Buffer.alloc(0);
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const at = buf.indexOf('\r\n\r\n');
        if (at < 0) return;
        const head = buf.toString('latin1', 0, at);
        const cl = /\r\ncontent-length: *(\d+)/i.exec(head);
        const len = cl ? Number(cl[1]) : 0;
        if (buf.length < at + 4 + len) return;
        const body = buf.subarray(at + 4, at + 4 + len);
        buf = buf.subarray(at + 4 + len);
        u.heads.push(head);
        u.bodies.push(body.toString('latin1'));
        answer(head, body, s);
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  u.port = (server.address() as AddressInfo).port;
  u.close = async () => {
    for (const s of sockets) s.destroy();
    server.close();
  };
  return u;
}

const ok = (body = 'ok', extra = '') => `HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\n${extra}\r\n${body}`;

interface Front {
  port: number;
  tracker: ConnTracker;
  metrics: ReturnType<typeof createMetrics>;
  pool: SocketPool;
  /** The accepted client connections. */
  downs: Set<Socket>;
  close(): void;
}

/** `streamReads`: dial without upstreamOnRead (the sidecars always use it), so bytes come through 'data'. */
async function front(upPort: number, o: { add?: string; streamReads?: boolean; tls?: { key: string; cert: string }; onDown?: (s: Socket) => void } = {}): Promise<Front> {
  const tracker = new ConnTracker();
  const metrics = createMetrics(new Registry(), { defaultMetrics: false });
  const pool = new SocketPool();
  const engine = new H1Engine({
    direction: 'inbound',
    listener: 'test',
    tracker,
    metrics,
    log: pino({ level: 'silent' }),
    accessLog: 'all',
    peerOf: () => undefined,
    rewrite: o.add ? { drop: new Set(['x-drop']), add: () => o.add! } : undefined,
  });
  const route: Route = {
    key: 'up',
    url: `http://127.0.0.1:${upPort}`,
    pool,
    dial: (cb) => {
      const s = net.connect({ port: upPort, host: '127.0.0.1', onread: o.streamReads ? undefined : upstreamOnRead });
      s.once('error', (err) => cb(err));
      s.once('connect', () => {
        s.removeAllListeners('error');
        cb(null, s);
      });
    },
  };
  const downs = new Set<Socket>();
  const onConnection = (s: Socket) => {
    o.onDown?.(s);
    downs.add(s);
    s.once('close', () => downs.delete(s));
    tracker.add(s, 1);
    tracker.markHttp(s);
    s.once('close', () => tracker.delete(s));
    engine.serve(s, route);
  };
  const server = o.tls ? tls.createServer(o.tls, onConnection) : net.createServer(onConnection);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { port: (server.address() as AddressInfo).port, tracker, metrics, pool, downs, close: () => server.close() };
}

/** A raw client: write bytes, read until `n` complete responses (Content-Length framed) or close. */
class Client {
  readonly s: Socket;
  data = '';
  closed = false;
  constructor(port: number) {
    this.s = net.connect({ port, host: '127.0.0.1' });
    this.s.on('data', (d: Buffer) => (this.data += d.toString('latin1')));
    this.s.on('close', () => (this.closed = true));
    this.s.on('error', () => {});
  }
  send(text: string | Buffer): this {
    this.s.write(text);
    return this;
  }
  async until(pred: (data: string) => boolean, what = 'the answer'): Promise<string> {
    for (let i = 0; i < 500; i++) {
      if (pred(this.data)) return this.data;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.data)}`);
  }
  responses(): number {
    return this.data.split('HTTP/1.1 ').length - 1;
  }
}

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

async function setup(answer: Answer, o: Parameters<typeof front>[1] = {}) {
  const up = await upstream(answer);
  const f = await front(up.port, o);
  cleanups.push(() => up.close(), () => f.close());
  const client = () => {
    const c = new Client(f.port);
    cleanups.push(() => c.s.destroy());
    return c;
  };
  return { up, f, client };
}

async function counted(f: Front, code: string): Promise<number> {
  const m = (await f.metrics.requests.get()).values.find((v) => v.labels.code === code);
  return m?.value ?? 0;
}

describe('keep-alive', () => {
  it('carries several requests over one upstream connection and counts each', async () => {
    const { up, f, client } = await setup((_h, _b, s) => s.write(ok()));
    const c = client().send('GET /1 HTTP/1.1\r\nHost: a\r\n\r\n');
    await c.until((d) => d.endsWith('ok'));
    c.send('GET /2 HTTP/1.1\r\nHost: a\r\n\r\n');
    await c.until(() => c.responses() === 2);
    expect(up.accepted).toBe(1);
    expect(await counted(f, '200')).toBe(2);
  });

  it('answers pipelined requests in order', async () => {
    const { up, client } = await setup((h, _b, s) => s.write(ok(`${h.split(' ')[1]!};`)));
    const c = client().send('GET /a HTTP/1.1\r\n\r\nGET /bb HTTP/1.1\r\n\r\nGET /ccc HTTP/1.1\r\n\r\n');
    await c.until(() => c.responses() === 3);
    expect(c.data.match(/\/\w+;/g)).toEqual(['/a;', '/bb;', '/ccc;']);
    expect(up.accepted).toBe(1);
  });

  it("ends the client connection on the client's Connection: close, and pools the upstream one", async () => {
    const { up, f, client } = await setup((_h, _b, s) => s.write(ok('ok', 'connection: keep-alive\r\n')));
    const c = client().send('GET / HTTP/1.1\r\nConnection: close\r\n\r\n');
    await c.until(() => c.closed, 'the close');
    expect(c.data).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(c.data.toLowerCase()).toContain('connection: close');
    expect(c.data.toLowerCase()).not.toContain('keep-alive');
    expect(up.heads[0]!.toLowerCase()).not.toContain('connection');
    await new Promise((r) => setTimeout(r, 20));
    expect(f.pool.size).toBe(1);
    const d = client().send('GET /again HTTP/1.1\r\n\r\n');
    await d.until((x) => x.endsWith('ok'));
    expect(up.accepted).toBe(1);
  });

  it('passes on only the message when the upstream sends more than its Content-Length with the head, and does not reuse that connection', async () => {
    const { up, client } = await setup((h, _b, s) => s.write(h.includes('/over') ? `${ok('ok')}SMUGGLED` : ok('fine')));
    const c = client().send('GET /over HTTP/1.1\r\n\r\n');
    await c.until((d) => d.endsWith('ok'));
    c.send('GET /next HTTP/1.1\r\n\r\n');
    await c.until(() => c.responses() === 2);
    expect(c.data).toBe(`${ok('ok')}${ok('fine')}`);
    expect(up.accepted).toBe(2);
  });

  it("keeps the client connection when the upstream closes its own, and dials again for the next request", async () => {
    const { up, client } = await setup((_h, _b, s) => s.end(ok('ok', 'Connection: close\r\n')));
    const c = client().send('GET / HTTP/1.1\r\n\r\n');
    await c.until((d) => d.endsWith('ok'));
    expect(c.data.toLowerCase()).not.toContain('connection: close');
    c.send('GET / HTTP/1.1\r\n\r\n');
    await c.until(() => c.responses() === 2);
    expect(c.closed).toBe(false);
    expect(up.accepted).toBe(2);
  });

  it('says Connection: close and closes when the tracker recycles the connection', async () => {
    const { f, client } = await setup((_h, _b, s) => s.write(ok()));
    const c = client().send('GET / HTTP/1.1\r\n\r\n');
    await c.until((d) => d.endsWith('ok'));
    f.tracker.recycle(() => true, { closeIdleHttp: false });
    c.data = '';
    c.send('GET / HTTP/1.1\r\n\r\n');
    await c.until(() => c.closed, 'the close');
    expect(c.data.toLowerCase()).toContain('connection: close');
  });

  it('answers an HTTP/1.0 keep-alive client with keep-alive, and closes a plain HTTP/1.0 one', async () => {
    const { up, client } = await setup((_h, _b, s) => s.write(ok()));
    const c = client().send('GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
    await c.until((d) => d.endsWith('ok'));
    expect(c.data.toLowerCase()).toContain('connection: keep-alive');
    expect(up.heads[0]!.toLowerCase()).toContain('connection: keep-alive');
    const d = client().send('GET / HTTP/1.0\r\n\r\n');
    await d.until(() => d.closed, 'the close');
    expect(d.data).toContain('ok');
  });
});

describe('framing', () => {
  it('forwards a chunked request and a chunked response byte for byte, split anywhere', async () => {
    const reqBody = '4\r\nwiki\r\n5\r\npedia\r\n0\r\n\r\n';
    const resBody = '3\r\nabc\r\n0\r\nX-T: 1\r\n\r\n';
    let seen = '';
    const up = net.createServer((s) => {
      s.on('data', (d: Buffer) => {
        seen += d.toString('latin1');
        if (seen.endsWith('0\r\n\r\n')) s.write(`HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n${resBody}`);
      });
    });
    up.listen(0, '127.0.0.1');
    await once(up, 'listening');
    const f = await front((up.address() as AddressInfo).port);
    cleanups.push(() => up.close(), () => f.close());
    const c = new Client(f.port);
    cleanups.push(() => c.s.destroy());
    const req = `POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n${reqBody}`;
    for (const ch of req) {
      c.send(ch);
      await new Promise((r) => setImmediate(r));
    }
    await c.until((d) => d.endsWith(resBody));
    expect(seen.endsWith(reqBody)).toBe(true);
    expect(await counted(f, '200')).toBe(1);
  });

  it('sends no body for HEAD, and reads a close-delimited body to the end', async () => {
    const { client } = await setup((h, _b, s) => {
      if (h.startsWith('HEAD')) s.write('HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n');
      else s.end('HTTP/1.1 200 OK\r\n\r\nuntil the end');
    });
    const c = client().send('HEAD / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n');
    await c.until(() => c.closed, 'the close');
    expect(c.data).toMatch(/content-length: 1000\r\n\r\nHTTP\/1\.1 200 OK\r\n/);
    expect(c.data.endsWith('until the end')).toBe(true);
  });

  it('passes 100 Continue through before the final answer', async () => {
    let sock: Socket | undefined;
    const up = net.createServer((s) => {
      sock = s;
      let got = '';
      s.on('data', (d: Buffer) => {
        got += d.toString('latin1');
        if (got.endsWith('\r\n\r\n') && got.includes('Expect')) s.write('HTTP/1.1 100 Continue\r\n\r\n');
        if (got.endsWith('hello')) s.write(ok('done'));
      });
    });
    up.listen(0, '127.0.0.1');
    await once(up, 'listening');
    const f = await front((up.address() as AddressInfo).port);
    cleanups.push(() => sock?.destroy(), () => up.close(), () => f.close());
    const c = new Client(f.port);
    cleanups.push(() => c.s.destroy());
    c.send('POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n');
    await c.until((d) => d.includes('100 Continue'));
    c.send('hello');
    await c.until((d) => d.endsWith('done'));
  });

  it('rewrites heads: drops and adds headers', async () => {
    const { up, client } = await setup((_h, _b, s) => s.write(ok()), { add: 'x-added: 1\r\n' });
    const c = client().send('GET / HTTP/1.1\r\nX-Drop: secret\r\nX-Keep: k\r\n\r\n');
    await c.until((d) => d.endsWith('ok'));
    expect(up.heads[0]).toBe('GET / HTTP/1.1\r\nX-Keep: k\r\nx-added: 1');
    // Nothing to drop: the head as it came, then the added lines, body behind them.
    c.send('POST /p HTTP/1.1\r\nX-Keep: k2\r\nContent-Length: 3\r\n\r\nabc');
    await c.until(() => c.responses() === 2);
    expect(up.heads[1]).toBe('POST /p HTTP/1.1\r\nX-Keep: k2\r\nContent-Length: 3\r\nx-added: 1');
    expect(up.bodies[1]).toBe('abc');
  });

  it('refuses a malformed request with 400 and nothing reaches the upstream', async () => {
    const { up, client } = await setup((_h, _b, s) => s.write(ok()));
    const c = client().send('POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n');
    await c.until(() => c.closed, 'the close');
    expect(c.data).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(up.accepted).toBe(0);
  });
});

describe('failures', () => {
  it('answers 502 when the upstream cannot be reached', async () => {
    const dead = net.createServer();
    dead.listen(0, '127.0.0.1');
    await once(dead, 'listening');
    const port = (dead.address() as AddressInfo).port;
    dead.close();
    const f = await front(port);
    cleanups.push(() => f.close());
    const c = new Client(f.port);
    c.send('GET / HTTP/1.1\r\n\r\n');
    await c.until(() => c.closed, 'the close');
    expect(c.data).toMatch(/^HTTP\/1\.1 502 Bad Gateway\r\n[\s\S]*upstream unavailable: ECONNREFUSED\n$/);
    expect(await counted(f, '502')).toBe(1);
  });

  it('retries a body-less request once when a reused upstream connection closes without answering (the keep-alive race)', async () => {
    let n = 0;
    const { up, client } = await setup((_h, _b, s) => {
      n += 1;
      if (n === 2) s.destroy();
      else s.write(ok(`r${n}`));
    });
    const c = client().send('GET / HTTP/1.1\r\n\r\n');
    await c.until((d) => d.endsWith('r1'));
    c.send('GET / HTTP/1.1\r\n\r\n');
    await c.until((d) => d.endsWith('r3'));
    expect(up.accepted).toBe(2);
  });

  it('does not retry a request with a body', async () => {
    let n = 0;
    const { client } = await setup((_h, _b, s) => {
      n += 1;
      if (n === 2) s.destroy();
      else s.write(ok(`r${n}`));
    });
    const c = client().send('GET / HTTP/1.1\r\n\r\n');
    await c.until((d) => d.endsWith('r1'));
    c.send('POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi');
    await c.until(() => c.closed, 'the close');
    expect(c.data).toContain('502 Bad Gateway');
    expect(n).toBe(2);
  });

  it('cuts the client connection when the upstream dies mid-body', async () => {
    const { f, client } = await setup((_h, _b, s) => {
      s.write('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\npartial');
      setTimeout(() => s.destroy(), 20);
    });
    const c = client().send('GET / HTTP/1.1\r\n\r\n');
    await c.until(() => c.closed, 'the close');
    expect(c.data.endsWith('partial')).toBe(true);
    expect(await counted(f, '200')).toBe(1);
  });
});

describe('upgrades', () => {
  it('tunnels bytes both ways after 101', async () => {
    const { client } = await setup((_h, _b, s) => {
      s.removeAllListeners('data');
      s.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\nhi');
      s.on('data', (d: Buffer) => s.write(d.toString().toUpperCase()));
    });
    const c = client().send('GET /ws HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n');
    await c.until((d) => d.endsWith('hi'));
    c.send('shout');
    await c.until((d) => d.endsWith('SHOUT'));
  });
});

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('borrowed reads (one read buffer shared by every upstream socket)', () => {
  // Bodies the upstream writes in pieces of odd sizes, chunked or with a
  // length, to six clients at once, three of which read nothing until the
  // engine's writes to all three are queued (their sockets full): queued
  // writes hold what they were given, and whatever the engine did not copy out
  // of the shared buffer is then overwritten by other connections' reads.
  // Every byte must arrive as sent.
  it('delivers concurrent large bodies intact, also to clients that stall', async () => {
    const bodies = new Map<string, Buffer>();
    // Stalled clients get more than the kernel's socket buffers on both ends hold.
    for (const [i, name] of ['a', 'b', 'c', 'd', 'e', 'f'].entries()) {
      bodies.set(name, noiseBody(name, (i % 2 === 1 ? 12 : 3) * 1024 * 1024 + name.charCodeAt(0)));
    }
    const { f } = await setup((h, _b, s) => {
      const name = h.split(' ')[1]!.slice(1);
      const body = bodies.get(name)!;
      const chunked = name > 'c';
      s.write(`HTTP/1.1 200 OK\r\n${chunked ? 'transfer-encoding: chunked' : `content-length: ${body.length}`}\r\n\r\n`);
      const pieces = oddPieces(body);
      let i = 0;
      const pump = () => {
        while (i < pieces.length) {
          const part = pieces[i++]!;
          const more = s.write(chunked ? Buffer.concat([Buffer.from(`${part.length.toString(16)}\r\n`), part, Buffer.from('\r\n')]) : part);
          if (!more) return void s.once('drain', pump);
        }
        if (chunked) s.write('0\r\n\r\n');
      };
      pump();
    });
    const backedUp = eventually(() => [...f.downs].filter((d) => d.writableLength > 0).length >= 3, 'three clients with queued writes');
    const got = await Promise.all([...bodies.keys()].map((name, i) => rawGet(f.port, `/${name}`, i % 2 === 1 ? { stall: () => backedUp } : {})));
    expect(got.map(sha)).toEqual([...bodies.values()].map(sha));
  });

  // A write a TLS socket has not completed when write() returns (always, for
  // the write's completion is reported later) keeps its stage until the
  // write's callback, which hands it to the next flush: stages are reused,
  // not made anew per flush (a new 1 MiB buffer per flush is external
  // memory that V8 collects only by marking the whole heap).
  it('reuses its stages: 48 MiB into a TLS client takes a handful', async () => {
    const root = await ca();
    const id = await identity(root, 'spiffe://cluster.local/ns/default/sa/client');
    const body = noiseBody('tls', 48 * 1024 * 1024);
    const { f } = await setup((_h, _b, s) => s.write(Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\n\r\n`), body])), {
      tls: { key: id.files.key, cert: id.files.cert },
    });
    const before = stageAllocations();
    expect(sha(await rawGet(f.port, '/x', { tls: true }))).toBe(sha(body));
    expect(stageAllocations() - before).toBeLessThanOrEqual(4);
  });

  // What a turn reads leaves in one write: a stage that filled up mid-turn
  // would be written behind the TLS write still in progress, and a TLS
  // socket copies what queued into one buffer before it encrypts. With
  // 128 KiB stages this body took 273 writes, with 1 MiB ones 61.
  it('writes a bulk body into a TLS client in few large writes', async () => {
    const root = await ca();
    const id = await identity(root, 'spiffe://cluster.local/ns/default/sa/client');
    const body = noiseBody('tls-turn', 32 * 1024 * 1024);
    let writes = 0;
    const { f } = await setup((_h, _b, s) => s.write(Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\n\r\n`), body])), {
      tls: { key: id.files.key, cert: id.files.cert },
      onDown: (s) => {
        const write = s.write.bind(s) as (b: Buffer, cb?: () => void) => boolean;
        (s as { write: unknown }).write = (b: Buffer, cb?: () => void) => {
          writes += 1;
          return write(b, cb);
        };
      },
    });
    expect(sha(await rawGet(f.port, '/x', { tls: true }))).toBe(sha(body));
    expect(writes).toBeLessThanOrEqual(128);
  });

  it('closes an idle pooled upstream connection that sends bytes nobody asked for', async () => {
    let last: Socket | undefined;
    const { up, f, client } = await setup((_h, _b, s) => {
      last = s;
      s.write(ok());
    });
    const c1 = client().send('GET /1 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
    await c1.until(() => c1.closed, 'the first connection to close');
    await eventually(() => f.pool.size === 1, 'the upstream connection in the pool');
    last!.write('HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nstale');
    await eventually(() => f.pool.size === 0, 'the pool to drop it');
    const c2 = client().send('GET /2 HTTP/1.1\r\nHost: a\r\n\r\n');
    await c2.until((d) => d.endsWith('ok'));
    expect(c2.data).not.toContain('stale');
    expect(up.accepted).toBe(2);
  });

  it('carries the same bodies through the Readable stream when dialed without it', async () => {
    const body = noiseBody('plain', 2 * 1024 * 1024);
    const { f } = await setup((_h, _b, s) => s.write(Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\n\r\n`), body])), { streamReads: true });
    expect(sha(await rawGet(f.port, '/x'))).toBe(sha(body));
  });
});

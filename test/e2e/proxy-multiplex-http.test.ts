// Multiplexed http between two real sidecars (docs/multiplexing.md): the
// outbound http listener's pooled upstream connections to a peer are streams
// of one mTLS connection, each carrying HTTP/1.1 as a keep-alive connection
// would; a client connection that moves a large body gets an mTLS connection
// of its own for its next requests. An inbound http listener takes the offer
// by ALPN and still answers http/1.1 to everyone else.
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import http2 from 'node:http2';
import tls from 'node:tls';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FrameSession, type FrameStream } from '../../proxy/src/net/frames.js';
import { ca, identity, tempDir, writeSecret, type TestCa } from '../support/pki.js';
import { echoApp, httpGet, metric, noiseBody, startSidecar, type EchoApp, type SidecarHandle } from '../support/mesh.js';
import { eventually, freePorts, killAll } from '../support/processes.js';

const TD = 'cluster.local';
const FRONTEND = `spiffe://${TD}/ns/default/sa/frontend`;
const BACKEND = `spiffe://${TD}/ns/default/sa/backend`;
const MUX = 'tlsmesh-mux/1';
const MUX2 = 'tlsmesh-mux/2';

const tmp = tempDir();
let root: TestCa;
let app: EchoApp;
let front: SidecarHandle;
let back: SidecarHandle;
let frontFiles: { cert: string; key: string; ca: string };
let frontLeafSha: string;
let p: Record<'outMux' | 'outToRaw' | 'inMux' | 'inRaw' | 'adminFront' | 'adminBack', number>;

beforeAll(async () => {
  root = await ca({ trustDomain: TD });
  const f = await identity(root, FRONTEND);
  frontFiles = f.files;
  frontLeafSha = createHash('sha256').update(f.leaf.der).digest('hex');
  await writeSecret(join(tmp.dir, 'front'), f.files);
  await writeSecret(join(tmp.dir, 'back'), (await identity(root, BACKEND)).files);
  app = await echoApp();
  const [outMux, outToRaw, inMux, inRaw, adminFront, adminBack] = await freePorts(6);
  p = { outMux: outMux!, outToRaw: outToRaw!, inMux: inMux!, inRaw: inRaw!, adminFront: adminFront!, adminBack: adminBack! };
  [back, front] = await Promise.all([
    startSidecar(tmp.dir, 'back', {
      trustDomain: TD,
      identity: { dir: join(tmp.dir, 'back') },
      admin: { listen: `127.0.0.1:${p.adminBack}` },
      inbound: [
        { listen: `127.0.0.1:${p.inMux}`, forward: `127.0.0.1:${app.port}`, protocol: 'http', allow: [FRONTEND] },
        // A peer that does not take multiplexing (an older tlsmesh, or turned off).
        { listen: `127.0.0.1:${p.inRaw}`, forward: `127.0.0.1:${app.port}`, protocol: 'http', allow: [FRONTEND], multiplex: false },
      ],
    }),
    startSidecar(tmp.dir, 'front', {
      trustDomain: TD,
      identity: { dir: join(tmp.dir, 'front') },
      admin: { listen: `127.0.0.1:${p.adminFront}` },
      outbound: [
        { listen: `127.0.0.1:${p.outMux}`, connect: `127.0.0.1:${p.inMux}`, protocol: 'http', expect: [BACKEND] },
        { listen: `127.0.0.1:${p.outToRaw}`, connect: `127.0.0.1:${p.inRaw}`, protocol: 'http', expect: [BACKEND] },
      ],
    }),
  ]);
});

afterAll(async () => {
  await killAll();
  await app?.close();
  tmp.cleanup();
});

const inboundHandshakes = async () => metric(await back.metrics(), 'tlsmesh_handshakes_total', { direction: 'inbound', result: 'ok', reason: '' }) ?? -1;

interface Seen {
  url: string;
  headers: Record<string, string>;
}

/** The ALPN protocol the inbound listener at `port` picks from `offer`, with the frontend's certificate. */
async function alpnChosen(port: number, offer: string[]): Promise<string | false | null> {
  const s = tls.connect({ host: '127.0.0.1', port, cert: frontFiles.cert, key: frontFiles.key, ca: frontFiles.ca, checkServerIdentity: () => undefined, ALPNProtocols: offer });
  try {
    await new Promise((r, j) => s.once('secureConnect', r).once('error', j));
    return s.alpnProtocol;
  } finally {
    s.destroy();
  }
}

describe('http requests to one peer', () => {
  it('ride one mTLS connection from many client connections, each with the identity and forwarding headers', async () => {
    const before = await inboundHandshakes();
    // 16 client connections at once, then 8 one after another with Connection: close.
    const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
    const parallel = await Promise.all(Array.from({ length: 16 }, (_, i) => httpGet(`http://127.0.0.1:${p.outMux}/par${i}`, {}, agent)));
    agent.destroy();
    const serial = [];
    for (let i = 0; i < 8; i++) serial.push(await httpGet(`http://127.0.0.1:${p.outMux}/ser${i}`, { connection: 'close' }));
    for (const [i, r] of [...parallel, ...serial].entries()) {
      expect(r.status).toBe(200);
      const seen = JSON.parse(r.body) as Seen;
      expect(seen.url).toBe(i < 16 ? `/par${i}` : `/ser${i - 16}`);
      expect(seen.headers['x-forwarded-client-cert']).toBe(`By=${BACKEND};Hash=${frontLeafSha};URI=${FRONTEND}`);
      expect(seen.headers['x-forwarded-proto']).toBe('https');
      expect(seen.headers['x-forwarded-for']).toBe('127.0.0.1');
    }
    // 24 requests on 24 client connections: one handshake between the sidecars.
    expect((await inboundHandshakes()) - before).toBe(1);
    expect(metric(await back.metrics(), 'tlsmesh_requests_total', { direction: 'inbound', code: '200' })).toBeGreaterThanOrEqual(24);
  });

  it('move a client connection that received a large body to an mTLS connection of its own', async () => {
    await httpGet(`http://127.0.0.1:${p.outMux}/warm`);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const get = (path: string) => httpGet(`http://127.0.0.1:${p.outMux}${path}`, {}, agent);
    const before = await inboundHandshakes();
    const big = await new Promise<Buffer>((resolve, reject) =>
      http
        .get(`http://127.0.0.1:${p.outMux}/noise?seed=lane&n=300000`, { agent }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (d: Buffer) => chunks.push(d));
          res.on('end', () => resolve(Buffer.concat(chunks)));
        })
        .on('error', reject),
    );
    expect(big.equals(noiseBody('lane', 300000))).toBe(true);
    // The large body came on the multiplexed connection, so no handshake yet.
    expect((await inboundHandshakes()) - before).toBe(0);
    for (let i = 0; i < 3; i++) expect(JSON.parse((await get(`/after${i}`)).body).headers['x-forwarded-client-cert']).toContain(`URI=${FRONTEND}`);
    // The next requests of that client connection: one new mTLS connection, kept for all of them.
    expect((await inboundHandshakes()) - before).toBe(1);
    agent.destroy();
  });

  it('go over raw mTLS connections to a peer that does not take multiplexing', async () => {
    expect(await alpnChosen(p.inRaw, [MUX, 'http/1.1'])).toBe('http/1.1');
    expect(await alpnChosen(p.inMux, [MUX, 'http/1.1'])).toBe(MUX);
    // The second version first, whatever order a client offers them in.
    expect(await alpnChosen(p.inMux, [MUX, MUX2, 'http/1.1'])).toBe(MUX2);
    // Standard clients still get http/1.1 from a listener that multiplexes.
    expect(await alpnChosen(p.inMux, ['h2', 'http/1.1'])).toBe('http/1.1');
    const before = await inboundHandshakes();
    const rs = await Promise.all(Array.from({ length: 3 }, (_, i) => httpGet(`http://127.0.0.1:${p.outToRaw}/raw${i}`, { connection: 'close' })));
    for (const r of rs) expect(JSON.parse(r.body).headers['x-forwarded-client-cert']).toContain(`URI=${FRONTEND}`);
    // Three requests at once: three pooled connections, each its own handshake (the first found out the peer's answer).
    expect((await inboundHandshakes()) - before).toBe(3);
  });
});

describe('a peer that sends garbage on its tlsmesh-mux/2 streams and frames', () => {
  it('gets 400 on each bad stream, then its carrier closed on broken frames, and the listener keeps serving', async () => {
    const socket = tls.connect({ host: '127.0.0.1', port: p.inMux, ca: frontFiles.ca, cert: frontFiles.cert, key: frontFiles.key, ALPNProtocols: [MUX2], checkServerIdentity: () => undefined });
    await new Promise((r, j) => socket.once('secureConnect', r).once('error', j));
    expect(socket.alpnProtocol).toBe(MUX2);
    const session = new FrameSession(socket, 'client');
    session.on('error', () => {});
    const open = async (): Promise<FrameStream> => {
      const stream = session.request({ ':method': 'CONNECT', ':authority': 'x' }, { endStream: false });
      stream.on('error', () => {});
      const headers = await new Promise<{ ':status': number }>((r) => stream.once('response', r));
      expect(headers[':status']).toBe(200);
      return stream;
    };
    const answer = async (bytes: Buffer): Promise<string> => {
      const stream = await open();
      let data = '';
      stream.on('data', (d: Buffer) => (data += d.toString('latin1')));
      stream.write(bytes);
      await new Promise((r) => stream.once('end', r));
      stream.destroy();
      return data;
    };
    expect(await answer(Buffer.from('NOT HTTP AT ALL\r\n\r\n'))).toMatch(/^HTTP\/1\.1 400 /);
    await Promise.all(
      Array.from({ length: 50 }, async (_, i) => {
        const stream = await open();
        stream.resume();
        stream.write(randomBytes(1000 + i * 97));
        if (i % 2 === 0) stream.destroy();
        else stream.end();
        await new Promise((r) => stream.once('close', r));
      }),
    );
    const ok = await answer(Buffer.from(`GET /after-garbage HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`));
    expect(ok).toMatch(/^HTTP\/1\.1 200 /);
    expect(ok).toContain(`URI=${FRONTEND}`);
    // Now a frame of an unknown type: the inbound sidecar closes the carrier and says why.
    const closed = new Promise((r) => socket.once('close', r));
    socket.write(Buffer.from([0, 0, 0, 0, 0x63, 0, 0, 0, 1]));
    await closed;
    await eventually(() => back.proc.stdout().includes('unknown frame type 99'), 'the mux_error line');
    // Through the pair, as before (its own carrier was not touched).
    expect(JSON.parse((await httpGet(`http://127.0.0.1:${p.outMux}/still`)).body).url).toBe('/still');
  });
});

describe('a peer that sends garbage on its streams', () => {
  it('gets 400 on each such stream, resets are taken in stride, and the listener keeps serving', async () => {
    // A peer with a valid SVID speaking the protocol badly: the frontend's own identity, by hand.
    const socket = tls.connect({ host: '127.0.0.1', port: p.inMux, ca: frontFiles.ca, cert: frontFiles.cert, key: frontFiles.key, ALPNProtocols: [MUX], checkServerIdentity: () => undefined });
    const session = http2.connect(`https://127.0.0.1:${p.inMux}`, { createConnection: () => socket });
    const answer = async (bytes: Buffer): Promise<string> => {
      const stream = session.request({ ':method': 'CONNECT', ':authority': `127.0.0.1:${p.inMux}` });
      const headers = await new Promise<http2.IncomingHttpHeaders>((r) => stream.once('response', r));
      expect(headers[':status']).toBe(200);
      let data = '';
      stream.on('data', (d: Buffer) => (data += d.toString('latin1')));
      stream.write(bytes);
      // The sidecar answers and ends its side of the stream (END_STREAM), as it would end a connection.
      await new Promise((r) => stream.once('end', r));
      stream.close();
      return data;
    };
    try {
      expect(await answer(Buffer.from('NOT HTTP AT ALL\r\n\r\n'))).toMatch(/^HTTP\/1\.1 400 /);
      expect(await answer(Buffer.from(`GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n`))).toMatch(/^HTTP\/1\.1 400 /);
      // Random bytes on 50 streams, half of them reset mid-way and half ended
      // (a stream the peer ends is ended by the inbound sidecar too).
      await Promise.all(
        Array.from({ length: 50 }, async (_, i) => {
          const stream = session.request({ ':method': 'CONNECT', ':authority': `127.0.0.1:${p.inMux}` });
          stream.on('error', () => {});
          stream.resume();
          stream.write(randomBytes(1000 + i * 97));
          if (i % 2 === 0) stream.close(http2.constants.NGHTTP2_CANCEL);
          else stream.end();
          await new Promise((r) => stream.once('close', r));
        }),
      );
      // The same carrier, a proper request, with the carrier's identity.
      const ok = await answer(Buffer.from(`GET /after-garbage HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`));
      expect(ok).toMatch(/^HTTP\/1\.1 200 /);
      expect(ok).toContain(`URI=${FRONTEND}`);
    } finally {
      session.destroy();
    }
    // And through the pair, as before.
    expect(JSON.parse((await httpGet(`http://127.0.0.1:${p.outMux}/still`)).body).url).toBe('/still');
  });
});

// Multiplexed tcp between two real sidecars (docs/multiplexing.md): every tcp
// connection to a peer rides one mTLS connection as an HTTP/2 CONNECT stream,
// offered by ALPN. Clients that do not offer it (openssl, Node's tls with
// other ALPN ids) still get raw TLS; rotation on either side moves new
// connections to a fresh mTLS connection without failing the open ones.
import http2 from 'node:http2';
import net from 'node:net';
import tls from 'node:tls';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ca, identity, tempDir, writeSecret, type TestCa } from '../support/pki.js';
import { metric, startSidecar, tcpEcho, type SidecarHandle, type TcpEcho } from '../support/mesh.js';
import { eventually, freePorts, killAll } from '../support/processes.js';

const TD = 'cluster.local';
const FRONTEND = `spiffe://${TD}/ns/default/sa/frontend`;
const BACKEND = `spiffe://${TD}/ns/default/sa/backend`;
const MUX = 'tlsmesh-mux/1';

const tmp = tempDir();
let root: TestCa;
let echo: TcpEcho;
let front: SidecarHandle;
let back: SidecarHandle;
let frontFiles: { cert: string; key: string; ca: string };
let p: Record<'outMux' | 'outRaw' | 'outDead' | 'outPerm' | 'outOld' | 'inTcp' | 'inDead' | 'inPerm' | 'oldPeer' | 'adminFront' | 'adminBack', number>;
/** An inbound end that speaks only tlsmesh-mux/1 (HTTP/2 CONNECT), as tlsmesh did before the second version. */
let oldPeer: { server: tls.Server; offers: string[][]; chosen: (string | false | null)[] };

beforeAll(async () => {
  root = await ca({ trustDomain: TD });
  frontFiles = (await identity(root, FRONTEND)).files;
  await writeSecret(join(tmp.dir, 'front'), frontFiles);
  const backFiles = (await identity(root, BACKEND)).files;
  await writeSecret(join(tmp.dir, 'back'), backFiles);
  echo = await tcpEcho();
  const [outMux, outRaw, outDead, outPerm, outOld, inTcp, inDead, inPerm, oldPort, adminFront, adminBack, closed] = await freePorts(12);
  p = { outMux: outMux!, outRaw: outRaw!, outDead: outDead!, outPerm: outPerm!, outOld: outOld!, inTcp: inTcp!, inDead: inDead!, inPerm: inPerm!, oldPeer: oldPort!, adminFront: adminFront!, adminBack: adminBack! };
  oldPeer = await startOldPeer(p.oldPeer, backFiles);
  [back, front] = await Promise.all([
    startSidecar(tmp.dir, 'back', {
      trustDomain: TD,
      identity: { dir: join(tmp.dir, 'back'), pollSeconds: 1 },
      admin: { listen: `127.0.0.1:${p.adminBack}` },
      inbound: [
        { listen: `127.0.0.1:${p.inTcp}`, forward: `127.0.0.1:${echo.port}`, allow: [FRONTEND] },
        // Nothing listens on `closed`: the app is down.
        { listen: `127.0.0.1:${p.inDead}`, forward: `127.0.0.1:${closed}`, allow: [FRONTEND] },
        { listen: `127.0.0.1:${p.inPerm}`, forward: `127.0.0.1:${echo.port}`, tls: 'permissive' },
      ],
    }),
    startSidecar(tmp.dir, 'front', {
      trustDomain: TD,
      identity: { dir: join(tmp.dir, 'front'), pollSeconds: 1 },
      admin: { listen: `127.0.0.1:${p.adminFront}` },
      outbound: [
        { listen: `127.0.0.1:${p.outMux}`, connect: `127.0.0.1:${p.inTcp}`, expect: [BACKEND] },
        { listen: `127.0.0.1:${p.outRaw}`, connect: `127.0.0.1:${p.inTcp}`, expect: [BACKEND], multiplex: false },
        { listen: `127.0.0.1:${p.outDead}`, connect: `127.0.0.1:${p.inDead}`, expect: [BACKEND] },
        { listen: `127.0.0.1:${p.outPerm}`, connect: `127.0.0.1:${p.inPerm}`, expect: [BACKEND] },
        { listen: `127.0.0.1:${p.outOld}`, connect: `127.0.0.1:${p.oldPeer}`, expect: [BACKEND] },
      ],
    }),
  ]);
});

afterAll(async () => {
  oldPeer?.server.close();
  await killAll();
  await echo?.close();
  tmp.cleanup();
});

/** The old peer: TLS with the backend's SVID, HTTP/2 CONNECT streams, each echoed as the tcp echo app does (`<bytes>:eof` at the FIN). */
async function startOldPeer(port: number, files: { cert: string; key: string; ca: string }): Promise<typeof oldPeer> {
  const offers: string[][] = [];
  const chosen: (string | false | null)[] = [];
  const h2 = http2.createServer();
  h2.on('stream', (stream, headers) => {
    if (headers[':method'] !== 'CONNECT') return stream.respond({ ':status': 405 }, { endStream: true });
    stream.respond({ ':status': 200 });
    let n = 0;
    stream.on('data', (d: Buffer) => {
      n += d.length;
      stream.write(d);
    });
    stream.on('end', () => stream.end(`${n}:eof`));
  });
  const server = tls.createServer({
    cert: files.cert,
    key: files.key,
    ca: files.ca,
    requestCert: true,
    rejectUnauthorized: true,
    ALPNCallback: ({ protocols }) => {
      offers.push(protocols);
      return protocols.includes(MUX) ? MUX : undefined;
    },
  });
  server.on('secureConnection', (s: tls.TLSSocket) => {
    chosen.push(s.alpnProtocol);
    h2.emit('connection', s);
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
  return { server, offers, chosen };
}

const inboundHandshakes = async () => metric(await back.metrics(), 'tlsmesh_handshakes_total', { direction: 'inbound', result: 'ok', reason: '' }) ?? -1;
const activeIn = async () => metric(await back.metrics(), 'tlsmesh_connections_active', { direction: 'inbound' }) ?? -1;

/** A client connection through the front sidecar that collects what comes back. */
async function open(port: number): Promise<{ socket: net.Socket; got: () => string; ended: Promise<void> }> {
  const socket = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
  let data = '';
  socket.on('data', (d: Buffer) => (data += d.toString('latin1')));
  // Ended by the other side: its FIN, or a reset. With allowHalfOpen a FIN alone never brings 'close' while this
  // side stays open, and a sidecar that closes a connection before the client's bytes arrived sends only a FIN
  // (with the bytes unread in its buffer, a reset): waiting for 'close' alone hung on that race under load.
  const ended = new Promise<void>((r) => socket.once('end', () => r()).once('close', () => r()));
  await new Promise((r, j) => socket.once('connect', r).once('error', j));
  return { socket, got: () => data, ended };
}

/** `p`, or an error naming what did not happen within `ms`. */
function within<T>(p: Promise<T>, what: string, ms = 12_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms)));
  return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
}

/** Write `text`, FIN, and wait for the echo and the app's `<n>:eof` (half-close crossed both sidecars). */
async function roundTrip(port: number, text: string): Promise<string> {
  const c = await open(port);
  c.socket.end(text);
  await c.ended;
  return c.got();
}

describe('tcp connections to one peer', () => {
  it('ride one mTLS connection, each with its bytes and half-close intact', async () => {
    const before = await inboundHandshakes();
    const texts = Array.from({ length: 24 }, (_, i) => `conn-${i};`.repeat(1 + i * 500));
    const answers = await Promise.all(texts.map((t) => roundTrip(p.outMux, t)));
    answers.forEach((a, i) => expect(a).toBe(`${texts[i]}${texts[i]!.length}:eof`));
    // 24 connections, one handshake between the sidecars (the first; later ones reuse it).
    expect((await inboundHandshakes()) - before).toBeLessThanOrEqual(1);
    expect(metric(await back.metrics(), 'tlsmesh_connections_total', { direction: 'inbound' })).toBeGreaterThanOrEqual(24);
  });

  it('ride HTTP/2 CONNECT streams of one mTLS connection to a peer that speaks only tlsmesh-mux/1', async () => {
    const texts = Array.from({ length: 12 }, (_, i) => `old-${i};`.repeat(1 + i * 300));
    const answers = await Promise.all(texts.map((t) => roundTrip(p.outOld, t)));
    answers.forEach((a, i) => expect(a).toBe(`${texts[i]}${texts[i]!.length}:eof`));
    // The outbound offered the second version first, and the first, and got the first: one connection for all twelve.
    expect(oldPeer.offers).toEqual([['tlsmesh-mux/2', MUX, 'http/1.1']]);
    expect(oldPeer.chosen).toEqual([MUX]);
  });

  it('without multiplex, each connection is its own mTLS connection', async () => {
    const before = await inboundHandshakes();
    for (let i = 0; i < 3; i++) expect(await roundTrip(p.outRaw, 'raw;')).toBe('raw;4:eof');
    expect((await inboundHandshakes()) - before).toBe(3);
  });

  it('counts open streams as active connections and returns to the carrier alone', async () => {
    await roundTrip(p.outMux, 'warm;');
    const idle = await eventually(async () => {
      const v = await activeIn();
      return v >= 1 ? v : undefined;
    }, 'the carrier counted');
    const conns = await Promise.all([open(p.outMux), open(p.outMux), open(p.outMux)]);
    for (const c of conns) c.socket.write('x');
    await eventually(() => conns.every((c) => c.got() === 'x'), 'three echoes');
    expect(await activeIn()).toBe(idle + 3);
    for (const c of conns) c.socket.destroy();
    await eventually(async () => (await activeIn()) === idle, 'back to the carrier alone');
  });

  it('closes the client connection when the peer cannot reach its app, and the carrier keeps serving', async () => {
    const upstreamErrors = async () => metric(await front.metrics(), 'tlsmesh_upstream_errors_total', { direction: 'outbound', kind: 'connect' }) ?? 0;
    const before = await upstreamErrors();
    const c = await open(p.outDead);
    c.socket.write('anyone?');
    await c.ended;
    expect(c.got()).toBe('');
    expect(await upstreamErrors()).toBe(before + 1);
    expect(await roundTrip(p.outMux, 'still;')).toBe('still;6:eof');
  });
});

describe('the inbound listener', () => {
  // openssl s_client, which offers no ALPN, is in proxy-pair.test.ts (same default listener).
  it('gives raw TLS to clients that offer other ALPN ids', async () => {
    const s = tls.connect({ host: '127.0.0.1', port: p.inTcp, ca: frontFiles.ca, cert: frontFiles.cert, key: frontFiles.key, ALPNProtocols: ['h2', 'http/1.1'], checkServerIdentity: () => undefined });
    await new Promise((r, j) => s.once('secureConnect', r).once('error', j));
    expect(s.alpnProtocol).toBe(false);
    let data = '';
    s.on('data', (d: Buffer) => (data += d.toString()));
    s.write('h2-offered;');
    await eventually(() => data === 'h2-offered;', 'the raw echo');
    s.destroy();
  });

  it('takes the offer from a ClientHello that arrives in two TCP segments', async () => {
    // Large key shares (post-quantum hybrids) can split a ClientHello; a relay splits this one on purpose.
    const relay = net.createServer((client) => {
      const peer = net.connect({ host: '127.0.0.1', port: p.inTcp });
      peer.setNoDelay(true);
      client.once('data', (hello: Buffer) => {
        peer.write(hello.subarray(0, 40));
        setTimeout(() => {
          peer.write(hello.subarray(40));
          client.pipe(peer).pipe(client);
        }, 100);
      });
      client.on('error', () => peer.destroy());
      peer.on('error', () => client.destroy());
    });
    await new Promise<void>((r) => relay.listen(0, '127.0.0.1', () => r()));
    try {
      const s = tls.connect({ host: '127.0.0.1', port: (relay.address() as net.AddressInfo).port, ca: frontFiles.ca, cert: frontFiles.cert, key: frontFiles.key, ALPNProtocols: [MUX], checkServerIdentity: () => undefined });
      await new Promise((r, j) => s.once('secureConnect', r).once('error', j));
      expect(s.alpnProtocol).toBe(MUX);
      s.destroy();
    } finally {
      relay.close();
    }
  });

  it('under tls: permissive, multiplexes tlsmesh peers and still serves plaintext clients', async () => {
    const before = await inboundHandshakes();
    for (let i = 0; i < 3; i++) expect(await roundTrip(p.outPerm, `perm-${i};`)).toBe(`perm-${i};7:eof`);
    expect((await inboundHandshakes()) - before).toBe(1);
    expect(await roundTrip(p.inPerm, 'plain;')).toBe('plain;6:eof');
  });

  it('answers a stream that is not CONNECT with 405, and CONNECT streams on the same connection still work', async () => {
    // http2.connect offers h2 whatever ALPNProtocols says: the socket is made here.
    const socket = tls.connect({ host: '127.0.0.1', port: p.inTcp, ca: frontFiles.ca, cert: frontFiles.cert, key: frontFiles.key, ALPNProtocols: [MUX], checkServerIdentity: () => undefined });
    const session = http2.connect(`https://127.0.0.1:${p.inTcp}`, { createConnection: () => socket });
    try {
      const get = session.request({ ':method': 'GET', ':path': '/' });
      const [getHeaders] = await Promise.all([new Promise<http2.IncomingHttpHeaders>((r) => get.once('response', r)), new Promise((r) => get.once('close', r)), get.resume()]);
      expect(getHeaders[':status']).toBe(405);
      const tunnel = session.request({ ':method': 'CONNECT', ':authority': `127.0.0.1:${echo.port}` });
      const headers = await new Promise<http2.IncomingHttpHeaders>((r) => tunnel.once('response', r));
      expect(headers[':status']).toBe(200);
      let data = '';
      tunnel.on('data', (d: Buffer) => (data += d.toString()));
      tunnel.end('over-h2;');
      await new Promise((r) => tunnel.once('end', r));
      expect(data).toBe('over-h2;8:eof');
    } finally {
      session.destroy();
    }
  });

  it('refuses a mux client whose SPIFFE ID is not allowed, before any stream', async () => {
    const intruder = (await identity(root, `spiffe://${TD}/ns/default/sa/intruder`)).files;
    const s = tls.connect({ host: '127.0.0.1', port: p.inTcp, ca: intruder.ca, cert: intruder.cert, key: intruder.key, ALPNProtocols: [MUX], checkServerIdentity: () => undefined });
    const closed = new Promise((r) => s.once('close', r));
    s.on('error', () => {});
    await closed;
    const denied = metric(await back.metrics(), 'tlsmesh_handshakes_total', { direction: 'inbound', result: 'error', reason: 'identity_denied' });
    expect(denied).toBeGreaterThanOrEqual(1);
  });
});

describe('rotation', () => {
  it('moves new connections to a fresh mTLS connection when either side rotates; open ones keep going', async () => {
    const long = await open(p.outMux);
    long.socket.write('before;');
    await eventually(() => long.got() === 'before;', 'the long-lived echo');
    for (const side of ['front', 'back'] as const) {
      const reloads = async () => metric(await (side === 'front' ? front : back).metrics(), 'tlsmesh_identity_reloads_total', { result: 'ok' }) ?? -1;
      const r0 = await reloads();
      const files = (await identity(root, side === 'front' ? FRONTEND : BACKEND)).files;
      if (side === 'front') frontFiles = files;
      await writeSecret(join(tmp.dir, side), files);
      await eventually(async () => (await reloads()) > r0, `${side} reloaded`);
      const before = await inboundHandshakes();
      // The first connection after the swap already works (a stream refused by GOAWAY is retried on a fresh connection)...
      const text = `after-${side};`;
      expect(await roundTrip(p.outMux, text)).toBe(`${text}${text.length}:eof`);
      // ...and went over a new mTLS connection, made with the new certificate.
      expect(await inboundHandshakes()).toBeGreaterThan(before);
      long.socket.write(`${side};`);
      await eventually(() => long.got().endsWith(`${side};`), `the long-lived connection still echoes after the ${side} rotation`);
    }
    long.socket.end();
    await long.ended;
    expect(long.got()).toBe(`before;front;back;${'before;front;back;'.length}:eof`);
  });
});

describe('a peer that stops answering', () => {
  it('is found out by PING and dialled afresh, instead of holding every new connection', async () => {
    // A TCP relay in front of the back sidecar stands for the network: told
    // to go silent, it stops carrying bytes on a connection without closing
    // it, as when the peer's node dies (no answers, no PING acks, no FIN).
    const relayed: { client: net.Socket; peer: net.Socket }[] = [];
    const relay = net.createServer((client) => {
      const peer = net.connect({ host: '127.0.0.1', port: p.inTcp });
      client.pipe(peer).pipe(client);
      client.on('error', () => peer.destroy());
      peer.on('error', () => client.destroy());
      relayed.push({ client, peer });
    });
    await new Promise<void>((r) => relay.listen(0, '127.0.0.1', () => r()));
    const [outPort, admin] = await freePorts(2);
    const side = await startSidecar(tmp.dir, 'front-dead', {
      trustDomain: TD,
      handshakeTimeoutSeconds: 1,
      identity: { dir: join(tmp.dir, 'front') },
      admin: { listen: `127.0.0.1:${admin}` },
      outbound: [{ listen: `127.0.0.1:${outPort}`, connect: `127.0.0.1:${(relay.address() as net.AddressInfo).port}`, expect: [BACKEND] }],
    });
    try {
      expect(await roundTrip(outPort!, 'alive;')).toBe('alive;6:eof');
      expect(relayed).toHaveLength(1);
      const { client, peer } = relayed[0]!;
      client.unpipe(peer);
      peer.unpipe(client);
      client.pause();
      peer.pause();
      // The next connection waits for an answer that never comes and is closed after handshakeTimeoutSeconds...
      const c = await open(outPort!);
      c.socket.write('anyone?');
      await c.ended;
      expect(c.got()).toBe('');
      // ...and the PING that follows goes unanswered, so the carrier is dropped: the next one is a fresh connection.
      await eventually(() => side.proc.stdout().includes('no answer to PING'), 'the dead carrier found out');
      expect(metric(await side.metrics(), 'tlsmesh_upstream_errors_total', { direction: 'outbound', kind: 'timeout' })).toBe(1);
      expect(await roundTrip(outPort!, 'again;')).toBe('again;6:eof');
      expect(relayed).toHaveLength(2);
    } finally {
      for (const r of relayed) {
        r.client.destroy();
        r.peer.destroy();
      }
      relay.close();
    }
  });
});

describe('SIGTERM on the inbound side', () => {
  it('sends GOAWAY: open streams carry on until they end, new connections are refused, then it exits 0', async () => {
    const [outPort, inPort, adminIn, adminOut] = await freePorts(4);
    const inSide = await startSidecar(tmp.dir, 'back-drain', {
      trustDomain: TD,
      drainSeconds: 30,
      identity: { dir: join(tmp.dir, 'back') },
      admin: { listen: `127.0.0.1:${adminIn}` },
      inbound: [{ listen: `127.0.0.1:${inPort}`, forward: `127.0.0.1:${echo.port}`, allow: [FRONTEND] }],
    });
    await startSidecar(tmp.dir, 'front-drain', {
      trustDomain: TD,
      // A stream that races the GOAWAY and goes unanswered fails after this, not after the default 10 s.
      handshakeTimeoutSeconds: 2,
      identity: { dir: join(tmp.dir, 'front') },
      admin: { listen: `127.0.0.1:${adminOut}` },
      outbound: [{ listen: `127.0.0.1:${outPort}`, connect: `127.0.0.1:${inPort}`, expect: [BACKEND] }],
    });
    const c = await open(outPort!);
    c.socket.write('one;');
    await eventually(() => c.got() === 'one;', 'the first echo');

    inSide.proc.kill('SIGTERM');
    await eventually(() => inSide.proc.stdout().includes('"event":"draining"'), 'the inbound side draining');
    // The open stream still carries bytes both ways...
    c.socket.write('two;');
    await eventually(() => c.got() === 'one;two;', 'the echo during the drain');
    // ...while a new connection finds the door closed.
    const refused = await open(outPort!);
    refused.socket.write('late;');
    await within(refused.ended, 'the late connection to be closed');
    expect(refused.got()).toBe('');
    expect(inSide.proc.child.exitCode).toBeNull();
    // Its last stream ended, the inbound side is done well before drainSeconds.
    c.socket.end();
    await within(c.ended, 'the open stream to end');
    expect(c.got()).toBe('one;two;8:eof');
    expect(await within(inSide.proc.exited, 'the inbound side to exit')).toBe(0);
    expect(inSide.proc.stdout()).toContain('"clean":true');
  }, 60_000);
});

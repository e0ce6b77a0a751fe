import { spawn, spawnSync } from 'node:child_process';
import net from 'node:net';
import tls from 'node:tls';
import { beforeAll, describe, expect, it } from 'vitest';
import { firstRecordIncomplete, offersAlpn } from './client-hello.js';

const MUX = 'tlsmesh-mux/1';
const hasOpenssl = !spawnSync('openssl', ['version']).error;
if (!hasOpenssl) console.warn('client-hello.test: openssl binary not found, SKIPPING the openssl s_client ClientHello case');

/** The first complete TLS record a client sends to a plain TCP server; `start` connects the client to the port. */
async function captureHello(start: (port: number) => () => void): Promise<Buffer> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  let stop = (): void => {};
  try {
    const hello = new Promise<Buffer>((resolve, reject) => {
      server.once('connection', (socket) => {
        let got = Buffer.alloc(0);
        socket.on('error', () => {});
        socket.on('data', (data: Buffer) => {
          got = Buffer.concat([got, data]);
          if (got.length >= 5 && got.length >= 5 + got.readUInt16BE(3)) {
            socket.destroy();
            resolve(got);
          }
        });
        socket.on('close', () => reject(new Error(`connection closed after ${got.length} bytes`)));
      });
    });
    stop = start(port);
    return await hello;
  } finally {
    stop();
    await new Promise((resolve) => server.close(resolve));
  }
}

function nodeHello(ALPNProtocols?: string[]): Promise<Buffer> {
  return captureHello((port) => {
    const client = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ALPNProtocols });
    client.on('error', () => {});
    return () => client.destroy();
  });
}

function opensslHello(): Promise<Buffer> {
  return captureHello((port) => {
    const child = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-alpn', MUX], { stdio: 'ignore' });
    child.on('error', () => {});
    return () => child.kill();
  });
}

/** Offset of the extension of `type` in a well-formed hello (its 2-byte type field), walking like the parser. */
function extensionOffset(hello: Buffer, type: number): number {
  let p = 9 + 2 + 32;
  p += 1 + hello[p];
  p += 2 + hello.readUInt16BE(p);
  p += 1 + hello[p];
  for (p += 2; p < hello.length; p += 4 + hello.readUInt16BE(p + 2)) {
    if (hello.readUInt16BE(p) === type) return p;
  }
  throw new Error(`no extension ${type}`);
}

/** A minimal ClientHello record, with `extensions` (already encoded) or none. */
function handmadeHello(extensions?: Buffer): Buffer {
  const body = Buffer.concat([
    Buffer.from([0x03, 0x03]),
    Buffer.alloc(32, 7),
    Buffer.from([0]), // session_id
    Buffer.from([0, 2, 0x13, 0x01]), // cipher_suites
    Buffer.from([1, 0]), // compression_methods
    extensions ? Buffer.concat([u16(extensions.length), extensions]) : Buffer.alloc(0),
  ]);
  const handshake = Buffer.concat([Buffer.from([1, 0, body.length >> 8, body.length & 0xff]), body]);
  return Buffer.concat([Buffer.from([0x16, 0x03, 0x01]), u16(handshake.length), handshake]);
}

function alpnExtension(...names: string[]): Buffer {
  const list = Buffer.concat(names.map((n) => Buffer.concat([Buffer.from([n.length]), Buffer.from(n, 'latin1')])));
  return Buffer.concat([u16(0x0010), u16(list.length + 2), u16(list.length), list]);
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

/** A copy of `b` changed by `edit`. */
function patched(b: Buffer, edit: (copy: Buffer) => void): Buffer {
  const copy = Buffer.from(b);
  edit(copy);
  return copy;
}

describe('offersAlpn', () => {
  let mux: Buffer;
  let h2: Buffer;
  let none: Buffer;
  beforeAll(async () => {
    [mux, h2, none] = [await nodeHello([MUX]), await nodeHello(['h2', 'http/1.1']), await nodeHello()];
  });

  it('is true for the protocols a node client offers', () => {
    expect(offersAlpn(mux, MUX)).toBe(true);
    expect(offersAlpn(h2, 'h2')).toBe(true);
    expect(offersAlpn(h2, 'http/1.1')).toBe(true);
  });

  it('with a list, is true when any of it is offered (one pass over the ClientHello)', () => {
    expect(offersAlpn(mux, ['tlsmesh-mux/2', MUX])).toBe(true);
    expect(offersAlpn(h2, ['tlsmesh-mux/2', MUX])).toBe(false);
    expect(offersAlpn(h2, ['x', 'http/1.1'])).toBe(true);
  });

  it('is false for protocols not offered, prefixes and extensions of them included', () => {
    expect(offersAlpn(h2, MUX)).toBe(false);
    expect(offersAlpn(mux, 'h2')).toBe(false);
    expect(offersAlpn(mux, 'tlsmesh-mux')).toBe(false);
    expect(offersAlpn(mux, 'tlsmesh-mux/10')).toBe(false);
    expect(offersAlpn(mux, '')).toBe(false);
  });

  it('is false without an ALPN extension, or without any extension', () => {
    expect(() => extensionOffset(none, 0x0010)).toThrow();
    expect(offersAlpn(none, MUX)).toBe(false);
    expect(offersAlpn(handmadeHello(), MUX)).toBe(false);
    expect(offersAlpn(handmadeHello(alpnExtension(MUX)), MUX)).toBe(true);
    expect(offersAlpn(handmadeHello(alpnExtension('h2', MUX)), MUX)).toBe(true);
  });

  it('reads only the first record', () => {
    const trailing = Buffer.concat([mux, Buffer.from([0x17, 0x03, 0x03, 0xff, 0xff, 1, 2, 3])]);
    expect(offersAlpn(trailing, MUX)).toBe(true);
  });

  it.skipIf(!hasOpenssl)('is true for the ClientHello of openssl s_client -alpn (skipped if openssl is missing)', async () => {
    const hello = await opensslHello();
    expect(offersAlpn(hello, MUX)).toBe(true);
    expect(offersAlpn(hello, 'h2')).toBe(false);
    for (let n = 0; n < hello.length; n++) expect(offersAlpn(hello.subarray(0, n), MUX)).toBeUndefined();
  });

  it('is undefined for every proper prefix of a real hello', () => {
    for (const hello of [mux, h2, none]) {
      for (let n = 0; n < hello.length; n++) {
        const got = offersAlpn(hello.subarray(0, n), MUX);
        expect(got).not.toBe(true);
        expect(got, `prefix of ${n} of ${hello.length} bytes`).toBeUndefined();
      }
    }
  });

  it('is undefined for what is not a TLS handshake record', () => {
    expect(offersAlpn(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), MUX)).toBeUndefined();
    expect(offersAlpn(patched(mux, (b) => (b[0] = 0x17)), MUX)).toBeUndefined(); // application data
    expect(offersAlpn(patched(mux, (b) => (b[5] = 0x02)), MUX)).toBeUndefined(); // ServerHello
  });

  it('is undefined when lengths point past what they should', () => {
    const len = (b: Buffer, at: number, delta: number) => b.writeUInt16BE(b.readUInt16BE(at) + delta, at);
    const alpn = extensionOffset(mux, 0x0010);
    const sessionId = 9 + 2 + 32;
    let ext = sessionId + 1 + mux[sessionId]; // after session_id, cipher_suites, compression_methods
    ext += 2 + mux.readUInt16BE(ext);
    ext += 1 + mux[ext];
    const cases: Record<string, Buffer> = {
      'record length larger than the chunk': patched(mux, (b) => len(b, 3, 1)),
      'handshake larger than the record (spans records)': patched(mux, (b) => len(b, 7, 1)),
      'session_id past the hello': patched(mux, (b) => (b[sessionId] = 0xff)),
      'cipher_suites past the hello': patched(mux, (b) => b.writeUInt16BE(0xfffe, sessionId + 1 + b[sessionId])),
      'extensions total length past the hello': patched(mux, (b) => len(b, ext, 1)),
      'extensions total length short of the hello': patched(mux, (b) => len(b, ext, -1)),
      'ALPN extension length past the end': patched(mux, (b) => b.writeUInt16BE(0xffff, alpn + 2)),
      'ALPN list length past the extension': patched(mux, (b) => len(b, alpn + 4, 1)),
      'ALPN list length short of the extension': patched(mux, (b) => len(b, alpn + 4, -1)),
      'ALPN name length past the list': patched(mux, (b) => (b[alpn + 6] += 1)),
      'empty ALPN name': handmadeHello(alpnExtension('', MUX)),
      'empty ALPN list': handmadeHello(Buffer.from([0, 0x10, 0, 2, 0, 0])),
      'extension header cut short': handmadeHello(Buffer.from([0, 0x10, 0])),
    };
    for (const [name, chunk] of Object.entries(cases)) expect(offersAlpn(chunk, MUX), name).toBeUndefined();
  });

  it('never throws on 2,000 random mutations of a real hello', () => {
    let seed = 0x5eed;
    const rand = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return (seed >>> 8) % n;
    };
    const seen = new Set<boolean | undefined>();
    for (let i = 0; i < 2000; i++) {
      const chunk = Buffer.from(mux);
      for (let k = 1 + rand(4); k > 0; k--) chunk[rand(chunk.length)] = rand(256);
      const cut = rand(4) === 0 ? chunk.subarray(0, rand(chunk.length + 1)) : chunk;
      let got: boolean | undefined;
      expect(() => (got = offersAlpn(cut, MUX))).not.toThrow();
      seen.add(got);
    }
    expect(seen.has(true) && seen.has(undefined)).toBe(true); // the mutations reach both outcomes
  });
});

describe('firstRecordIncomplete', () => {
  let hello: Buffer;
  beforeAll(async () => {
    hello = await nodeHello([MUX]);
  });

  it('asks for more until the first record is whole, then no more', () => {
    for (let n = 0; n < hello.length; n++) expect(firstRecordIncomplete(hello.subarray(0, n)), `${n} bytes`).toBe(true);
    expect(firstRecordIncomplete(hello)).toBe(false);
    expect(firstRecordIncomplete(Buffer.concat([hello, Buffer.from('more')]))).toBe(false);
  });

  it('does not wait on what is not a handshake record, nor on a length no TLS record can have', () => {
    expect(firstRecordIncomplete(Buffer.from('GET / HTTP/1.1\r\n'))).toBe(false);
    expect(firstRecordIncomplete(Buffer.from([0x16, 0x03, 0x01, 0xff, 0xff]))).toBe(false);
  });
});

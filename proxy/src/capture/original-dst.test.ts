// The addon loader and originalDst() outside any redirect (no root needed); the
// real REDIRECT cases are in test/e2e/capture-original-dst.test.ts.
import net from 'node:net';
import tls from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { CaptureError } from '../errors.js';
import { resetAddonForTests } from './addon.js';
import { originalDst, originalDstProblem } from './original-dst.js';

afterEach(() => {
  delete process.env.TLSMESH_ADDON;
  resetAddonForTests();
});

/** A connected pair on 127.0.0.1; `wrap` turns the server side into a TLSSocket first. */
async function accepted(wrap = false): Promise<{ socket: net.Socket; close: () => void }> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const got = new Promise<net.Socket>((r) => server.once('connection', r));
  const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  const raw = await got;
  const socket = wrap ? new tls.TLSSocket(raw, { isServer: true }) : raw;
  return {
    socket,
    close: () => {
      client.destroy();
      socket.destroy();
      server.close();
    },
  };
}

describe('originalDstProblem', () => {
  it('is undefined when the addon is built (npm ci builds it)', () => {
    expect(originalDstProblem()).toBeUndefined();
  });

  it('says how to build the addon when it is missing', () => {
    process.env.TLSMESH_ADDON = '/nonexistent/tlsmesh_original_dst.node';
    expect(originalDstProblem()).toBe(
      'the SO_ORIGINAL_DST addon is not built (no /nonexistent/tlsmesh_original_dst.node): build it with `npm run build:addon` ' +
        "(needs g++, make, python3 and Node's headers), or reinstall without --ignore-scripts",
    );
  });

  it('says so when the file is not an addon', () => {
    process.env.TLSMESH_ADDON = new URL('./original-dst.ts', import.meta.url).pathname;
    expect(originalDstProblem()).toMatch(/^the SO_ORIGINAL_DST addon \S+original-dst\.ts does not load \(.+\): build it with/);
  });
});

describe('originalDst', () => {
  it('throws CaptureError with the problem when the addon is missing', async () => {
    process.env.TLSMESH_ADDON = '/nonexistent/x.node';
    const { socket, close } = await accepted();
    try {
      expect(() => originalDst(socket)).toThrowError(new CaptureError(`original destination: ${originalDstProblem()}`));
    } finally {
      close();
    }
  });

  it.each([
    { name: 'a net.Socket', wrap: false },
    { name: 'a tls.TLSSocket (the descriptor is found through TLSWrap)', wrap: true },
  ])('refuses a connection that was not redirected: $name', async ({ wrap }) => {
    const { socket, close } = await accepted(wrap);
    try {
      let caught: unknown;
      try {
        originalDst(socket);
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(CaptureError);
      expect((caught as CaptureError).code).toBe('TLSMESH_ERR_CAPTURE');
      // With conntrack loaded here it reports the listener itself; without, no entry.
      expect((caught as Error).message).toMatch(/^original destination: (the connection was not redirected|the kernel has no connection tracking)/);
    } finally {
      close();
    }
  });

  it('refuses a closed socket', async () => {
    const { socket, close } = await accepted();
    close();
    await new Promise((r) => socket.once('close', r));
    expect(() => originalDst(socket)).toThrowError(/^original destination: the socket has no file descriptor/);
  });
});

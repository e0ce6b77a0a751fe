// A raw mTLS client for refusal tests: connect with a given certificate, send
// bytes, and report whether anything came back before the connection closed.
import net from 'node:net';
import tls from 'node:tls';

export interface TryResult {
  handshake: boolean;
  data: string;
  error?: string;
  resumed: boolean;
  session?: Buffer;
}

export function tryTls(o: { port: number; cert?: string; key?: string; ca: string; send?: string; session?: Buffer; servername?: string; waitMs?: number }): Promise<TryResult> {
  return new Promise((resolve) => {
    let data = '';
    let handshake = false;
    let resumed = false;
    let session: Buffer | undefined;
    let error: string | undefined;
    const s = tls.connect({
      host: '127.0.0.1',
      port: o.port,
      cert: o.cert,
      key: o.key,
      ca: o.ca,
      session: o.session,
      servername: o.servername,
      checkServerIdentity: () => undefined,
    });
    const timer = setTimeout(() => s.destroy(), o.waitMs ?? 5000);
    s.on('secureConnect', () => {
      handshake = true;
      resumed = s.isSessionReused();
      s.write(o.send ?? 'ping');
    });
    s.on('session', (x: Buffer) => (session = x));
    s.on('data', (d: Buffer) => {
      data += d.toString();
      // Got the echo: done.
      if (data.includes(o.send ?? 'ping')) s.end();
    });
    s.on('error', (e: Error) => (error = e.message));
    s.on('close', () => {
      clearTimeout(timer);
      resolve({ handshake, data, error, resumed, session });
    });
  });
}

/** Send raw bytes (garbage, a partial ClientHello) and wait for the server to close. */
export function sendRaw(port: number, bytes: Buffer, o: { endAfter?: boolean; waitMs?: number } = {}): Promise<{ closedByServer: boolean; reply: Buffer }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let closedByServer = false;
    const s = net.connect({ host: '127.0.0.1', port }, () => {
      s.write(bytes);
      if (o.endAfter) s.end();
    });
    const timer = setTimeout(() => s.destroy(), o.waitMs ?? 5000);
    s.on('data', (d: Buffer) => chunks.push(d));
    s.on('end', () => (closedByServer = true));
    s.on('error', () => (closedByServer = true));
    s.on('close', () => {
      clearTimeout(timer);
      resolve({ closedByServer, reply: Buffer.concat(chunks) });
    });
  });
}

/** The first bytes of a TLS ClientHello: a handshake record header and part of the body. */
export const PARTIAL_CLIENT_HELLO = Buffer.from('160301020001', 'hex');

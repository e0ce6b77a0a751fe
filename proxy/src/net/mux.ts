// Multiplexed tcp between two tlsmesh proxies: one mTLS connection per peer
// address carries every tcp connection to it, each as a stream: a
// tlsmesh-mux/2 stream (net/frames.ts), or with a peer that speaks only the
// first version, an HTTP/2 CONNECT stream (what Istio's ambient mesh calls
// HBONE). The outbound proxy offers both by ALPN; an inbound tcp listener
// takes one only when offered, so plain mTLS clients (openssl s_client, curl,
// other meshes) still get raw TLS. docs/multiplexing.md.
import type { EventEmitter } from 'node:events';
import type { Http2Session, Settings } from 'node:http2';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { FRAMES_ALPN } from './frames.js';

/** The first version's ALPN protocol id: HTTP/2 with CONNECT streams, one per tcp connection. */
export const MUX_ALPN = 'tlsmesh-mux/1';

/** What an inbound listener offers and takes, in its order of preference. */
export const MUX_PROTOCOLS = [FRAMES_ALPN, MUX_ALPN];

/** Either version's id. */
export function isMuxAlpn(p: string | false | null | undefined): boolean {
  return typeof p === 'string' && MUX_PROTOCOLS.includes(p);
}

/** The part of a multiplexed connection's outbound end that the mux pool uses: node:http2's ClientHttp2Session or a FrameSession. */
export interface MuxClientSession extends EventEmitter {
  readonly closed: boolean;
  readonly destroyed: boolean;
  request(headers: { ':method': string; ':authority': string }, options: { endStream: boolean }): MuxClientStream;
  close(): void;
  destroy(): void;
  ping(cb: (err: Error | null) => void): boolean;
  setTimeout(ms: number, cb: () => void): void;
}

/** A stream of it: a Duplex that says how a reset closed it. */
export type MuxClientStream = Duplex & { readonly rstCode?: number };

/** The inbound end of a stream: answered with a status once the app is reached (200) or not. */
export type MuxServerStream = Duplex & { respond(headers: { ':status': number }, options?: { endStream?: boolean }): void };

/** The inbound end of a multiplexed connection, as the listener holds it (drain, recycling). */
export interface MuxServerSession extends EventEmitter {
  readonly closed: boolean;
  close(): void;
}

/**
 * Both ends' HTTP/2 settings: a window of 1 MiB per stream and per connection
 * (the default 64 KiB would cap each stream's throughput at one window per
 * round trip), no limit on concurrent streams below what the peer allows.
 */
export const MUX_SETTINGS: Settings = {
  initialWindowSize: 1 << 20,
  maxConcurrentStreams: 2 ** 31 - 1,
  enablePush: false,
};

/** The connection-level window, raised on both ends once the session is up. */
const MUX_CONNECTION_WINDOW = 16 << 20;

/** MB of frames and stream state a session may hold before new streams are refused (Node's default is 10). */
export const MUX_SESSION_MEMORY_MB = 64;

/** TCP keep-alive on carriers: long-lived streams may leave one quiet for hours. */
const MUX_KEEPALIVE_MS = 60_000;

/** What both ends do to a new carrier: TCP keep-alive, so a vanished peer is noticed, and for HTTP/2 the wide connection window. */
export function tuneCarrier(socket: TLSSocket, session?: Http2Session): void {
  socket.setKeepAlive(true, MUX_KEEPALIVE_MS);
  session?.on('connect', () => session.setLocalWindowSize(MUX_CONNECTION_WINDOW));
}

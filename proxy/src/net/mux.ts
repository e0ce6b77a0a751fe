// Multiplexed tcp between two tlsmesh proxies: one mTLS connection per peer
// address carries every tcp connection to it, each as an HTTP/2 CONNECT stream
// (what Istio's ambient mesh calls HBONE). The outbound proxy offers it by
// ALPN; an inbound tcp listener takes it only when offered, so plain mTLS
// clients (openssl s_client, curl, other meshes) still get raw TLS. docs/multiplexing.md.
import type { Http2Session, Settings } from 'node:http2';
import type { TLSSocket } from 'node:tls';

/** The ALPN protocol id: HTTP/2 with CONNECT streams, one per tcp connection. */
export const MUX_ALPN = 'tlsmesh-mux/1';

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

/** What both ends do to a new carrier: TCP keep-alive, so a vanished peer is noticed, and the wide connection window. */
export function tuneCarrier(socket: TLSSocket, session: Http2Session): void {
  socket.setKeepAlive(true, MUX_KEEPALIVE_MS);
  session.on('connect', () => session.setLocalWindowSize(MUX_CONNECTION_WINDOW));
}

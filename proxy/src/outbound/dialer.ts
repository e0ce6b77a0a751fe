// Originate mTLS to a peer: connect with the current generation's client
// context, resume a session when one is cached, and hand the socket over only
// after the peer passed every check. A resumed session (which carries no
// certificate in TLS 1.3) is checked again against the current policy, using
// the evidence recorded when that session's full handshake was verified.
import type { X509Certificate } from 'node:crypto';
import type { OnReadOpts } from 'node:net';
import tls, { type SecureContext, type TLSSocket } from 'node:tls';
import { checkPeer, type PeerDecision, type PeerEvidence, type PeerPolicy, type RefusalReason } from '../identity/peer-check.js';
import type { Logger } from '../log.js';
import type { Direction, Metrics } from '../metrics.js';
import { tlsVersion, type MinTlsVersion } from '../tls/contexts.js';
import { evidenceFromSocket, PeerCache } from '../tls/peer-evidence.js';
import { PeerRefusedError, UpstreamError } from '../tls/peer-refused.js';

export interface DialTarget {
  host: string;
  port: number;
  servername?: string;
  alpn?: string[];
  /** Node's `onread` (reads into a buffer of the caller's, delivered to a callback instead of 'data'). */
  onread?: OnReadOpts;
}

/** What a dial needs of the current credentials generation. */
export interface DialContext {
  secureContext: SecureContext;
  anchors: readonly X509Certificate[];
  generation: number;
}

export interface DialerOptions {
  context: () => DialContext | undefined;
  /** The direction whose handshake metrics this dialer counts (undefined: upstream errors only, e.g. TLS to the app). */
  direction: Direction;
  countHandshakes: boolean;
  policy: PeerPolicy;
  minVersion: MinTlsVersion;
  handshakeTimeoutMs: number;
  clock: () => number;
  metrics: Metrics;
  log: Logger;
  listener: string;
}

interface CachedSession {
  session: Buffer;
  evidence: PeerEvidence;
  generation: number;
}

export type DialCallback = (err: Error | null, socket?: TLSSocket, decision?: PeerDecision & { ok: true }) => void;

const MAX_SESSIONS = 1024;

interface SocketMeta {
  generation: number;
  peerNotAfter: number;
}

export class MtlsDialer {
  private readonly meta = new WeakMap<TLSSocket, SocketMeta>();
  private readonly sessions = new Map<string, CachedSession>();
  private readonly cache = new PeerCache();
  private generation = -1;

  constructor(private readonly o: DialerOptions) {}

  dial(t: DialTarget, cb: DialCallback): TLSSocket | undefined {
    const creds = this.o.context();
    if (!creds) {
      cb(new UpstreamError('not_ready', 'no identity loaded yet'));
      return undefined;
    }
    if (creds.generation !== this.generation) {
      this.generation = creds.generation;
      this.sessions.clear();
      this.cache.clearChains();
    }
    const key = `${t.host}:${t.port}/${t.servername ?? ''}`;
    const cached = this.sessions.get(key);
    const socket = tls.connect({
      host: t.host,
      port: t.port,
      servername: t.servername,
      secureContext: creds.secureContext,
      minVersion: tlsVersion(this.o.minVersion),
      session: cached?.session,
      ALPNProtocols: t.alpn,
      onread: t.onread,
      rejectUnauthorized: false,
      checkServerIdentity: () => undefined,
      // No half-open during the handshake: the peer's FIN must end it at once.
      // Callers that carry tcp set allowHalfOpen on the socket afterwards.
      allowHalfOpen: false,
    } as tls.ConnectionOptions);
    socket.setNoDelay(true);
    let settled = false;
    const finish = (err: Error | null, decision?: PeerDecision & { ok: true }) => {
      if (settled) return;
      settled = true;
      // With its callback, setTimeout(0) also takes the 'timeout' listener
      // off, which would otherwise live as long as the connection.
      socket.setTimeout(0, onTimeout);
      socket.removeListener('error', onError);
      if (err) {
        socket.destroy();
        cb(err);
      } else cb(null, socket, decision);
    };
    const onError = (err: NodeJS.ErrnoException) => {
      const code = err.code ?? '';
      const connecting = code === 'ECONNREFUSED' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'ETIMEDOUT' || code === 'ENOTFOUND' || code === 'EAI_AGAIN';
      if (connecting) {
        this.o.metrics.upstreamErrors.labels(this.o.direction, 'connect').inc();
        finish(new UpstreamError('connect', `connect ${key}: ${code}`, { cause: err }));
        return;
      }
      this.countRefused('protocol');
      this.o.log.warn({ event: 'handshake', direction: this.o.direction, listener: this.o.listener, result: 'error', reason: 'protocol', upstream: key, error: err.message }, 'mTLS handshake with peer failed');
      finish(new UpstreamError('tls', `TLS handshake with ${key} failed: ${err.message}`, { cause: err }));
    };
    socket.on('error', onError);
    const onTimeout = () => {
      this.countRefused('protocol');
      this.o.metrics.upstreamErrors.labels(this.o.direction, 'timeout').inc();
      finish(new UpstreamError('timeout', `TLS handshake with ${key} timed out`));
    };
    socket.setTimeout(this.o.handshakeTimeoutMs, onTimeout);
    let fullEvidence: PeerEvidence | undefined;
    socket.once('secureConnect', () => {
      socket.disableRenegotiation();
      const now = this.o.clock();
      const resumed = socket.isSessionReused() && cached !== undefined && cached.generation === creds.generation;
      const evidence = resumed
        ? cached.evidence
        : evidenceFromSocket(socket, { cache: this.cache, needPins: this.o.policy.pins !== undefined, anchors: creds.anchors, skewMs: this.o.policy.skewMs, now });
      const decision = checkPeer(evidence, this.o.policy, now);
      if (!decision.ok) {
        this.sessions.delete(key);
        this.countRefused(decision.reason);
        this.o.log.warn(
          { event: 'handshake', direction: this.o.direction, listener: this.o.listener, result: 'refused', reason: decision.reason, detail: decision.detail, peer: decision.id?.toString(), upstream: key, resumed },
          'peer refused',
        );
        finish(new PeerRefusedError(decision.reason, decision.detail, decision.id?.toString()));
        return;
      }
      if (!resumed) fullEvidence = evidence;
      this.meta.set(socket, { generation: creds.generation, peerNotAfter: decision.leaf.notAfter });
      if (this.o.countHandshakes) this.o.metrics.handshakeOk(this.o.direction, resumed);
      finish(null, decision);
    });
    socket.on('session', (session: Buffer) => {
      const evidence = fullEvidence ?? (cached?.generation === creds.generation ? cached.evidence : undefined);
      if (!evidence || creds.generation !== this.generation) return;
      if (this.sessions.size >= MAX_SESSIONS) this.sessions.delete(this.sessions.keys().next().value as string);
      this.sessions.set(key, { session, evidence, generation: creds.generation });
    });
    return socket;
  }

  /** Opened under an older credentials generation, or its peer's certificate has expired. */
  isStale(socket: TLSSocket, now: number): boolean {
    const m = this.meta.get(socket);
    if (!m) return false;
    const current = this.o.context()?.generation ?? m.generation;
    return m.generation !== current || m.peerNotAfter <= now;
  }

  /** The credentials generation new dials use (-1 before any). */
  generationNow(): number {
    return this.o.context()?.generation ?? -1;
  }

  peerNotAfter(socket: TLSSocket): number | undefined {
    return this.meta.get(socket)?.peerNotAfter;
  }

  private countRefused(reason: RefusalReason): void {
    if (this.o.countHandshakes) this.o.metrics.handshakeRefused(this.o.direction, reason);
    else this.o.metrics.upstreamErrors.labels(this.o.direction, 'tls').inc();
  }
}

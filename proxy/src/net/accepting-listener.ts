// What the inbound and outbound listeners share: a plain net.Server that
// accepts paused sockets; the bookkeeping of every accepted connection
// (opened/closed metrics, its record in `conns`, its access line when it closes);
// refusing connections while not ready; the original destination under
// iptables capture; and the tracker that drain and recycling walk.
import net, { type Socket } from 'node:net';
import { logsConnection, type AccessLogMode } from '../access-log.js';
import { originalDst, type OriginalDst } from '../capture/original-dst.js';
import { formatHostPort, type HostPort } from '../config/index.js';
import type { CredentialStore } from '../identity/credential-store.js';
import type { Logger } from '../log.js';
import type { Direction, Metrics } from '../metrics.js';
import type { MinTlsVersion } from '../tls/contexts.js';
import { listenOn } from './listen.js';
import { noop } from './noop.js';
import { ConnTracker, type Tracked } from './tracker.js';

export interface ListenerGlobals {
  trustDomain: string;
  minVersion: MinTlsVersion;
  handshakeTimeoutMs: number;
  skewMs: number;
  accessLog: AccessLogMode;
  clock: () => number;
}

/** What each accepted connection records, for its log line. */
export interface AcceptedConn {
  started: number;
  /** Inbound: the client's address. */
  remote?: string;
  peer?: string;
  target?: HostPort;
  result: string;
  reason?: string;
}

/** The slice of a listener's config used here. */
export interface AcceptConfig {
  listen: HostPort;
  recycleGraceSeconds?: number;
}

export abstract class AcceptingListener<C extends AcceptedConn> {
  readonly tracker = new ConnTracker();
  protected readonly server: net.Server;
  protected readonly conns = new WeakMap<Socket, C>();
  listening = false;

  constructor(
    readonly name: string,
    protected readonly direction: Direction,
    private readonly accept: AcceptConfig,
    allowHalfOpen: boolean,
    protected readonly g: ListenerGlobals,
    protected readonly store: CredentialStore,
    protected readonly metrics: Metrics,
    protected readonly log: Logger,
  ) {
    this.server = net.createServer({ pauseOnConnect: true, allowHalfOpen }, (s) => this.onConnection(s));
    this.server.on('error', (err) => log.error({ event: 'listener_error', listener: this.name, error: err.message }, 'listener error'));
  }

  /** The record of a connection just accepted. */
  protected abstract newConn(s: Socket): C;
  /** Credentials to serve with are there. */
  protected abstract ready(): boolean;
  /** A connection accepted while ready and listening (still paused). */
  protected abstract admit(s: Socket, conn: C): void;

  async listen(): Promise<void> {
    await listenOn(this.server, this.accept.listen, `${this.name}.listen`);
    this.listening = true;
  }

  address(): HostPort {
    const a = this.server.address() as net.AddressInfo;
    return { host: a.address, port: a.port };
  }

  /** Drain: new connections are refused from now on. */
  stopAccepting(): void {
    this.listening = false;
    this.server.close();
  }

  /** Recycle tracked connections `pick` chooses (tcp ones after recycleGraceSeconds, when set). */
  protected recycleTracked(pick: (generation: number, peerNotAfter: number | undefined) => boolean, closeIdleHttp: boolean): number {
    const grace = this.accept.recycleGraceSeconds;
    return this.tracker.recycle(pick, { tcpGraceMs: grace === undefined || grace === 0 ? undefined : grace * 1000, closeIdleHttp });
  }

  private onConnection(s: Socket): void {
    this.metrics.connectionOpened(this.direction);
    const conn = this.newConn(s);
    this.conns.set(s, conn);
    s.on('error', noop);
    s.setNoDelay(true);
    // 'close' comes once; on() spares once()'s wrapper for the life of the connection.
    s.on('close', () => this.ended(s, conn, s.bytesRead, s.bytesWritten));
    if (!this.ready() || !this.listening) {
      conn.reason = 'not_ready';
      s.destroy();
      return;
    }
    this.admit(s, conn);
  }

  /** Where the client was going before iptables sent it here; undefined (the connection destroyed) when that cannot be read. */
  protected originalDst(s: Socket, conn: C): OriginalDst | undefined {
    try {
      return originalDst(s);
    } catch (err) {
      conn.reason = 'original_dst';
      this.log.error({ event: 'original_dst_failed', listener: this.name, error: (err as Error).message }, 'cannot read the original destination');
      s.destroy();
      return undefined;
    }
  }

  /** A connection (a socket, or a stream of a multiplexed one) is gone: metrics, tracker, its access line. */
  protected ended(s: Tracked, conn: C, rx: number, tx: number): void {
    this.metrics.connectionClosed(this.direction, rx, tx);
    this.tracker.delete(s);
    if (!logsConnection(this.g.accessLog, conn.result) || !this.log.isLevelEnabled('info')) return;
    this.log.info({
      event: 'connection',
      direction: this.direction,
      listener: this.name,
      peer: conn.peer,
      remote: conn.remote,
      // Outbound says where it went; inbound where the connection came from (remote).
      upstream: this.direction === 'outbound' && conn.target ? formatHostPort(conn.target) : undefined,
      result: conn.result,
      reason: conn.reason,
      rx,
      tx,
      durationMs: this.g.clock() - conn.started,
    });
  }
}

// How an inbound listener reaches the app: plaintext on localhost (TLS
// termination), or TLS again with the app's own CA and name (bridging), which
// fails closed when the app's certificate does not pass.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { OnReadOpts, Socket } from 'node:net';
import tls from 'node:tls';
import type { UpstreamTlsConfig } from '../config/index.js';
import { ConfigError } from '../errors.js';
import type { CredentialStore } from '../identity/credential-store.js';
import { parseCertificates } from '../identity/x509.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { DialingAgent } from '../http/dialing-agent.js';
import { connectPlain } from '../net/connect-plain.js';
import { MtlsDialer } from '../outbound/dialer.js';
import { compilePolicy } from '../tls/policy.js';
import { tlsVersion, type MinTlsVersion } from '../tls/contexts.js';

export interface AppConnector {
  scheme: 'http' | 'https';
  agent: http.Agent;
  /** `onread`: Node's option, for sockets whose reads go to a callback (the h1 engine's). */
  connect(host: string, port: number, cb: (err: Error | null, socket?: Socket) => void, onread?: OnReadOpts): void;
}

export interface AppConnectorDeps {
  field: string;
  listener: string;
  store: CredentialStore;
  minVersion: MinTlsVersion;
  handshakeTimeoutMs: number;
  skewMs: number;
  clock: () => number;
  metrics: Metrics;
  log: Logger;
}

export function plainAppConnector(metrics: Metrics): AppConnector {
  return {
    scheme: 'http',
    agent: new http.Agent({ keepAlive: true, maxFreeSockets: 256, scheduling: 'lifo' }),
    connect(host, port, cb, onread) {
      connectPlain({ host, port, name: `${host}:${port}`, onread }, { direction: 'inbound', metrics }, cb);
    },
  };
}

export function tlsAppConnector(cfg: UpstreamTlsConfig, d: AppConnectorDeps): AppConnector {
  let caPem: string;
  try {
    caPem = readFileSync(cfg.ca, 'utf8');
    parseCertificates(caPem, cfg.ca);
  } catch (err) {
    throw new ConfigError(`${d.field}.upstreamTls.ca`, `cannot use ${cfg.ca}: ${(err as Error).message}`);
  }
  const anchors = parseCertificates(caPem, cfg.ca);
  const trustDomain = cfg.expect?.[0] ? new URL(cfg.expect[0].replace(/\/\*$/, '')).host : '';
  const policy = compilePolicy(
    { trustDomain, ids: cfg.expect, pins: cfg.pins, role: 'server', skewMs: d.skewMs },
    d.log,
    `${d.listener} upstreamTls`,
  );
  policy.dnsName = cfg.expect ? undefined : cfg.serverName;
  let cached: { generation: number; ctx: tls.SecureContext } | undefined;
  const dialer = new MtlsDialer({
    context: () => {
      const creds = cfg.clientCert ? d.store.current : undefined;
      if (cfg.clientCert && !creds) return undefined;
      const generation = creds?.generation ?? 0;
      if (!cached || cached.generation !== generation) {
        const ctx = tls.createSecureContext({
          ca: caPem,
          minVersion: tlsVersion('1.2'),
          ...(creds ? { key: creds.keyPem, cert: creds.certPem } : {}),
        });
        cached = { generation, ctx };
      }
      return { secureContext: cached.ctx, anchors, generation };
    },
    direction: 'inbound',
    countHandshakes: false,
    policy,
    minVersion: '1.2',
    handshakeTimeoutMs: d.handshakeTimeoutMs,
    clock: d.clock,
    metrics: d.metrics,
    log: d.log,
    listener: `${d.listener} upstreamTls`,
  });
  return {
    scheme: 'https',
    agent: new DialingAgent(dialer, { servername: cfg.serverName, alpn: ['http/1.1'] }),
    connect(host, port, cb, onread) {
      dialer.dial({ host, port, servername: cfg.serverName, onread }, (err, socket) => {
        if (socket) socket.allowHalfOpen = true; // tcp carries half-close
        cb(err, socket);
      });
    },
  };
}

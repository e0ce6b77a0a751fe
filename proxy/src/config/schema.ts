// The proxy's config: one schema, documented field by field in
// docs/configuration.md. Unknown fields are errors (strictObject everywhere).
import { z } from 'zod';
import { ACCESS_LOG_MODES } from '../access-log.js';
import { cidr, hostPort, hostPortOrOriginal, httpUrl, idPattern, pin, seconds, trustDomain } from './fields.js';
import { parseHostPort } from './fields.js';
import { checkOffload, offloadFields } from './offload.js';

const pins = z.array(pin);

/** Re-encrypting to the app (TLS bridging) instead of plaintext on localhost. */
const upstreamTls = z.strictObject({
  ca: z.string().min(1, 'expected a file path'),
  serverName: z.string().min(1).optional(),
  /** SPIFFE IDs (or `/*` patterns) the app's certificate must carry; absent = any name check by serverName only. */
  expect: z.array(idPattern).optional(),
  pins: pins.optional(),
  /** Client certificate presented to the app: the proxy's own identity when true. */
  clientCert: z.boolean().default(false),
});

const inbound = z.strictObject({
  name: z.string().min(1).optional(),
  listen: hostPort,
  forward: hostPortOrOriginal,
  protocol: z.enum(['http', 'tcp']).default('tcp'),
  tls: z.enum(['mutual', 'server', 'permissive']).default('mutual'),
  allow: z.array(idPattern).optional(),
  pins: pins.optional(),
  upstreamTls: upstreamTls.optional(),
  /** tcp only: close connections this long after the local identity rotated (0 = never). */
  recycleGraceSeconds: seconds().optional(),
  /** tls mutual or permissive: accept multiplexed connections from tlsmesh peers when they offer them (docs/multiplexing.md). */
  multiplex: z.boolean().optional(),
  /** TLS offload (tls: server): SNI certificates, TLS policy, HSTS, redirect, ACME; see docs/offloading.md. */
  ...offloadFields,
});

const outbound = z
  .strictObject({
    name: z.string().min(1).optional(),
    listen: hostPort,
    connect: hostPortOrOriginal,
    protocol: z.enum(['http', 'tcp']).default('tcp'),
    serverName: z.string().min(1).optional(),
    expect: z.array(idPattern).optional(),
    pins: pins.optional(),
    meshNetworks: z.array(cidr).optional(),
    recycleGraceSeconds: seconds().optional(),
    /** Carry every connection (tcp) or request (http) to a peer on one mTLS connection when the peer takes it (docs/multiplexing.md). */
    multiplex: z.boolean().optional(),
  })
  .superRefine((o, ctx) => {
    if (o.meshNetworks && o.connect !== 'original') {
      ctx.addIssue({ code: 'custom', path: ['meshNetworks'], message: 'only meaningful with connect: original' });
    }
  });

const identity = z.strictObject({
  dir: z.string().min(1, 'expected a directory path'),
  trustBundle: z.string().min(1).optional(),
  /** Re-read the files this often even without file events (0 = never). */
  pollSeconds: seconds().default(5),
  /** Warn when less than this fraction of the lifetime is left and no renewal arrived. */
  expiryWarningRatio: z.number().gt(0).lt(1).default(0.1),
});

/** The app's original kubelet probe, run by the sidecar for `/app-health/<container>/<probe>` (see docs/injector.md). */
const probePort = z.number().int().min(1, 'expected a port 1-65535').max(65535, 'expected a port 1-65535');
const appProbe = z
  .strictObject({
    httpGet: z
      .strictObject({
        port: probePort,
        path: z.string().startsWith('/', 'expected a path starting with /').default('/'),
        scheme: z.enum(['HTTP', 'HTTPS']).default('HTTP'),
        httpHeaders: z.array(z.strictObject({ name: z.string().min(1), value: z.string() })).default([]),
      })
      .optional(),
    tcpSocket: z.strictObject({ port: probePort }).optional(),
    grpc: z.strictObject({ port: probePort, service: z.string().default('') }).optional(),
    timeoutSeconds: seconds(0.001).default(1),
  })
  .superRefine((p, ctx) => {
    if ([p.httpGet, p.tcpSocket, p.grpc].filter((h) => h !== undefined).length !== 1) {
      ctx.addIssue({ code: 'custom', message: 'expected exactly one of httpGet, tcpSocket, grpc' });
    }
  });
const appProbeKey = z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?\/(livez|readyz|startupz)$/, 'expected <container>/livez|readyz|startupz');

const admin = z.strictObject({
  listen: hostPort.default(parseHostPort('127.0.0.1:15020')!),
  appMetrics: httpUrl.optional(),
  appProbes: z.record(appProbeKey, appProbe).optional(),
});

export const proxyConfigSchema = z.strictObject({
  trustDomain,
  drainSeconds: seconds().default(5),
  handshakeTimeoutSeconds: seconds(0.1).default(10),
  clockSkewSeconds: seconds().default(5),
  minTlsVersion: z.enum(['1.2', '1.3']).default('1.3'),
  logLevel: z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info'),
  accessLog: z.enum(ACCESS_LOG_MODES).default('errors'),
  identity,
  admin: admin.default({ listen: parseHostPort('127.0.0.1:15020')! }),
  inbound: z
    .array(
      inbound.superRefine(checkOffload).superRefine((l, ctx) => {
        if (l.multiplex === true && l.tls === 'server') {
          ctx.addIssue({ code: 'custom', path: ['multiplex'], message: 'only meaningful with tls: mutual or permissive' });
        }
      }),
    )
    .default([]),
  outbound: z.array(outbound).default([]),
});

export type ProxyConfigInput = z.input<typeof proxyConfigSchema>;
export type ProxyConfig = z.output<typeof proxyConfigSchema>;
export type InboundConfig = ProxyConfig['inbound'][number];
export type OutboundConfig = ProxyConfig['outbound'][number];
export type UpstreamTlsConfig = z.output<typeof upstreamTls>;
export type AppProbeConfig = z.output<typeof appProbe>;

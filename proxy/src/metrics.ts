// Every metric tlsmesh exports, declared once, on a registry the caller owns
// (never prom-client's global). Label values are enums; children the hot path
// uses are bound once.
import { Counter, Gauge, collectDefaultMetrics, type Registry } from 'prom-client';
import { REFUSAL_REASONS, type RefusalReason } from './identity/peer-check.js';
import { OFFLOAD_HANDSHAKE_REASONS } from './offload/handshake-reason.js';
import { NO_SNI, UNKNOWN_NAME } from './offload/sni-table.js';
import { LabelledHistogram } from './request-histogram.js';

export type Direction = 'inbound' | 'outbound';
export const DIRECTIONS: readonly Direction[] = ['inbound', 'outbound'];
export type UpstreamErrorKind = 'connect' | 'reset' | 'timeout' | 'tls' | 'refused_peer';

/**
 * How often prom-client samples the event loop's delay (its
 * nodejs_eventloop_lag_* gauges). Its default, 10 ms, is a libuv timer that
 * woke every idle sidecar 100 times a second; at 100 ms a block of the loop
 * longer than that is still seen, and an idle sidecar wakes 10 times.
 */
export const EVENT_LOOP_SAMPLE_MS = 100;

export function createMetrics(registry: Registry, opts: { defaultMetrics?: boolean } = {}) {
  const registers = [registry];
  const handshakes = new Counter({
    name: 'tlsmesh_handshakes_total',
    help: 'mTLS handshakes by direction, result and refusal reason',
    labelNames: ['direction', 'result', 'reason'] as const,
    registers,
  });
  const resumptions = new Counter({
    name: 'tlsmesh_tls_resumptions_total',
    help: 'Accepted handshakes that resumed a TLS session (authorized again like a full handshake)',
    labelNames: ['direction'] as const,
    registers,
  });
  const connectionsActive = new Gauge({
    name: 'tlsmesh_connections_active',
    help: 'Open connections (client side for outbound, peer side for inbound)',
    labelNames: ['direction'] as const,
    registers,
  });
  const connectionsTotal = new Counter({
    name: 'tlsmesh_connections_total',
    help: 'Connections accepted',
    labelNames: ['direction'] as const,
    registers,
  });
  const identityExpiry = new Gauge({
    name: 'tlsmesh_identity_expiry_timestamp_seconds',
    help: 'notAfter of the identity in use, as a Unix timestamp',
    registers,
  });
  const identityReloads = new Counter({
    name: 'tlsmesh_identity_reloads_total',
    help: 'Identity or trust bundle changes seen, by result (error: refused, the previous identity stays)',
    labelNames: ['result'] as const,
    registers,
  });
  const identityReady = new Gauge({
    name: 'tlsmesh_identity_ready',
    help: '1 when a valid, unexpired identity is loaded',
    registers,
  });
  // Requests are counted per direction and code in perRequest (below) and
  // handed to the counter when it is read (its collect): prom-client's inc
  // hashes and validates the labels on every call (request-histogram.ts says
  // what that cost).
  const requests = new Counter({
    name: 'tlsmesh_requests_total',
    help: 'HTTP requests by direction and status code',
    labelNames: ['direction', 'code'] as const,
    registers,
    collect() {
      for (const { byCode } of perRequest.values()) {
        for (const u of byCode.values()) {
          if (u.n === 0) continue;
          u.child.inc(u.n);
          u.n = 0;
        }
      }
    },
  });
  const requestDuration = new LabelledHistogram(
    'tlsmesh_request_duration_seconds',
    'HTTP request duration until the response is complete',
    'direction',
    DIRECTIONS,
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registry,
  );
  const bytes = new Counter({
    name: 'tlsmesh_bytes_total',
    help: 'Bytes carried, by direction and flow (rx: from the accepting side, tx: to it)',
    labelNames: ['direction', 'flow'] as const,
    registers,
  });
  const upstreamErrors = new Counter({
    name: 'tlsmesh_upstream_errors_total',
    help: 'Failures to reach or keep the upstream (the app for inbound, the peer for outbound)',
    labelNames: ['direction', 'kind'] as const,
    registers,
  });
  const appMetricsErrors = new Counter({
    name: 'tlsmesh_app_metrics_scrape_errors_total',
    help: "Failures to fetch the app's own metrics for /stats/prometheus",
    labelNames: ['kind'] as const,
    registers,
  });
  const recycled = new Counter({
    name: 'tlsmesh_connections_recycled_total',
    help: 'Connections closed gracefully because a certificate they rely on rotated or expired',
    labelNames: ['direction', 'cause'] as const,
    registers,
  });
  const trustWarnings = new Counter({
    name: 'tlsmesh_trust_warnings_total',
    help: 'Rotation safety warnings (own leaf outside the new bundle, pins no longer matching)',
    labelNames: ['kind'] as const,
    registers,
  });
  // TLS offload (docs/offloading.md). `server_name` is a configured name (or a
  // wildcard pattern), `(none)` without SNI or `(unknown)`: never the client's string.
  const offloadHandshakes = new Counter({
    name: 'tlsmesh_offload_handshakes_total',
    help: 'Client-facing handshakes of offload listeners by server name, result and reason',
    labelNames: ['listener', 'server_name', 'result', 'reason'] as const,
    registers,
  });
  const offloadCertificateExpiry = new Gauge({
    name: 'tlsmesh_offload_certificate_expiry_timestamp_seconds',
    help: 'notAfter of the certificate served for each server name, as a Unix timestamp',
    labelNames: ['listener', 'server_name'] as const,
    registers,
  });
  const offloadCertificateReloads = new Counter({
    name: 'tlsmesh_offload_certificate_reloads_total',
    help: 'Offload certificate changes seen per source, by result (error: refused, the previous certificate stays)',
    labelNames: ['listener', 'source', 'result'] as const,
    registers,
  });
  const acmeOrders = new Counter({
    name: 'tlsmesh_acme_orders_total',
    help: 'ACME certificate orders by result',
    labelNames: ['listener', 'result'] as const,
    registers,
  });
  const acmeRenewal = new Gauge({
    name: 'tlsmesh_acme_next_order_timestamp_seconds',
    help: 'When the next ACME order (renewal or retry) is due, as a Unix timestamp',
    labelNames: ['listener'] as const,
    registers,
  });
  const ocspFetches = new Counter({
    name: 'tlsmesh_offload_ocsp_fetches_total',
    help: 'OCSP responses fetched for stapling, by result (good, revoked, unknown: not stapled; error: fetch or parse failed)',
    labelNames: ['listener', 'result'] as const,
    registers,
  });
  const redirects = new Counter({
    name: 'tlsmesh_offload_redirect_requests_total',
    help: 'Requests answered by a plaintext redirect listener, by result (redirect, acme_challenge, not_found, bad_request)',
    labelNames: ['listener', 'result'] as const,
    registers,
  });

  for (const direction of DIRECTIONS) {
    handshakes.inc({ direction, result: 'ok', reason: '' }, 0);
    for (const reason of REFUSAL_REASONS) handshakes.inc({ direction, result: 'error', reason }, 0);
    connectionsActive.set({ direction }, 0);
    connectionsTotal.inc({ direction }, 0);
    resumptions.inc({ direction }, 0);
  }
  identityReloads.inc({ result: 'ok' }, 0);
  identityReloads.inc({ result: 'error' }, 0);
  identityReady.set(0);
  if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });

  const okChild = new Map(DIRECTIONS.map((d) => [d, handshakes.labels(d, 'ok', '')]));
  const activeChild = new Map(DIRECTIONS.map((d) => [d, connectionsActive.labels(d)]));
  const totalChild = new Map(DIRECTIONS.map((d) => [d, connectionsTotal.labels(d)]));
  // What a finished request touches, one lookup per request: its direction's unreported counts and duration series.
  const perRequest = new Map(DIRECTIONS.map((d) => [d, { byCode: new Map<number, { child: Counter.Internal; n: number }>(), duration: requestDuration.labels(d) }]));

  return {
    registry,
    handshakes,
    connectionsActive,
    identityExpiry,
    identityReloads,
    identityReady,
    requests,
    requestDuration,
    bytes,
    upstreamErrors,
    appMetricsErrors,
    recycled,
    trustWarnings,
    offloadHandshakes,
    offloadCertificateExpiry,
    offloadCertificateReloads,
    acmeOrders,
    acmeRenewal,
    redirects,
    ocspFetches,
    /** Zero every offload series of a listener, so that dashboards see them before the first event. */
    offloadListener(listener: string, o: { sources: readonly string[]; acme: boolean; redirect: boolean }): void {
      for (const source of o.sources) for (const result of ['ok', 'error']) offloadCertificateReloads.inc({ listener, source, result }, 0);
      offloadHandshakes.inc({ listener, server_name: NO_SNI, result: 'ok', reason: '' }, 0);
      for (const reason of OFFLOAD_HANDSHAKE_REASONS) offloadHandshakes.inc({ listener, server_name: UNKNOWN_NAME, result: 'error', reason }, 0);
      if (o.acme) for (const result of ['ok', 'error']) acmeOrders.inc({ listener, result }, 0);
      if (o.redirect) for (const result of ['redirect', 'acme_challenge', 'not_found', 'bad_request']) redirects.inc({ listener, result }, 0);
    },
    handshakeOk(direction: Direction, resumed = false): void {
      okChild.get(direction)!.inc();
      if (resumed) resumptions.labels(direction).inc();
    },
    handshakeRefused(direction: Direction, reason: RefusalReason): void {
      handshakes.labels(direction, 'error', reason).inc();
    },
    connectionOpened(direction: Direction): void {
      activeChild.get(direction)!.inc();
      totalChild.get(direction)!.inc();
    },
    connectionClosed(direction: Direction, rx: number, tx: number): void {
      activeChild.get(direction)!.dec();
      if (rx) bytes.labels(direction, 'rx').inc(rx);
      if (tx) bytes.labels(direction, 'tx').inc(tx);
    },
    request(direction: Direction, code: number, seconds: number): void {
      const d = perRequest.get(direction)!;
      const u = d.byCode.get(code);
      if (u) u.n += 1;
      else d.byCode.set(code, { child: requests.labels(direction, String(code)), n: 1 });
      d.duration.observe(seconds);
    },
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

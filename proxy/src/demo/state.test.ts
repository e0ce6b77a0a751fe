import { describe, expect, it } from 'vitest';
import { parseIssuedLine } from './launch.js';
import { parseMetrics } from './prom-text.js';
import { attackSeen, certificateIssued, certsSeen, initialState, meshConnections, rate, refusals, trafficSeen, verdict, type DemoState } from './state.js';

const T0 = Date.parse('2026-11-29T06:00:00Z');
const certs = (serial: string, notBefore = T0, life = 10_000) => ({ serialNumber: serial, notBefore: new Date(notBefore).toISOString(), notAfter: new Date(notBefore + life).toISOString() });

function fresh(): DemoState {
  return initialState(T0, { frontend: 10_000, backend: 8_000 });
}

describe('rotations', () => {
  it('counts a rotation when the serial the sidecar serves changes, not for the first one nor a repeat', () => {
    const s = fresh();
    certsSeen(s, 'frontend', certs('aa01'));
    certsSeen(s, 'frontend', certs('aa01'));
    expect(s.identities.frontend.rotations).toBe(0);
    certsSeen(s, 'frontend', certs('bb02'));
    certsSeen(s, 'frontend', certs('cc03'));
    expect(s.identities.frontend).toMatchObject({ rotations: 2, serial: 'cc03' });
    expect(s.identities.backend.rotations).toBe(0);
    expect(s.events.map((e) => e.text)).toEqual(['frontend sidecar rotated aa01 -> bb02; failed requests so far: 0', 'frontend sidecar rotated bb02 -> cc03; failed requests so far: 0']);
  });

  it('measures the delay from the issuer writing a certificate to the sidecar serving it', () => {
    const s = fresh();
    certificateIssued(s, 'backend', 'aa01');
    certsSeen(s, 'backend', certs('aa01'));
    s.now = T0 + 5000;
    certificateIssued(s, 'backend', 'bb02');
    s.now = T0 + 5300;
    certsSeen(s, 'backend', certs('bb02'));
    expect(s.identities.backend.pickupMs).toEqual([300]);
    expect(s.events.at(-1)?.text).toBe('backend sidecar rotated aa01 -> bb02, in use 0.3s after it was written; failed requests so far: 0');
  });

  it('reads the line `tlsmesh ca issue` prints for each certificate', () => {
    expect(parseIssuedLine('issued spiffe://demo.local/ns/default/sa/backend serial 0a1b2c notAfter 2026-11-29T06:00:10.000Z to /tmp/x/backend')).toEqual({
      spiffeId: 'spiffe://demo.local/ns/default/sa/backend',
      serial: '0a1b2c',
      notAfter: '2026-11-29T06:00:10.000Z',
    });
    expect(parseIssuedLine('ca issue: renewal failed: boom; retrying in 1s')).toBeUndefined();
  });
});

describe('traffic and verdict', () => {
  it('passes with no failure, fails with one, and says why', () => {
    const s = fresh();
    trafficSeen(s, { ok: 10, failed: 0, failures: [] });
    expect(verdict(s)).toEqual({ pass: true, why: [] });
    trafficSeen(s, { ok: 12, failed: 1, failures: [{ at: 'x', what: 'status 502: pin_mismatch' }] });
    expect(verdict(s)).toEqual({ pass: false, why: ['1 legitimate request failed'] });
    expect(s.events.at(-1)).toMatchObject({ level: 'bad', text: '1 legitimate request FAILED: status 502: pin_mismatch' });
  });

  it('an attack that was not refused as expected fails the run', () => {
    const s = fresh();
    attackSeen(s, { kind: 'untrusted', at: T0, ok: true, detail: 'refused by the backend sidecar (inbound): untrusted' });
    expect(verdict(s).pass).toBe(true);
    attackSeen(s, { kind: 'protocol', at: T0, ok: false, detail: 'refused, but the backend sidecar (inbound) counted no refusal (expected protocol)' });
    expect(s.attacks.protocol).toMatchObject({ tries: 1, refused: 0 });
    expect(verdict(s)).toEqual({ pass: false, why: ['attack protocol: refused, but the backend sidecar (inbound) counted no refusal (expected protocol)'] });
  });

  it('rate: requests per second over the recent samples', () => {
    const s = fresh();
    trafficSeen(s, { ok: 0, failed: 0, failures: [] });
    s.now = T0 + 2000;
    trafficSeen(s, { ok: 40, failed: 0, failures: [] });
    expect(rate(s)).toBe(20);
  });
});

describe('what the sidecars counted', () => {
  const s = fresh();
  s.metrics.backend = parseMetrics(
    [
      'tlsmesh_handshakes_total{direction="inbound",result="ok",reason=""} 4',
      'tlsmesh_handshakes_total{direction="inbound",result="error",reason="untrusted"} 2',
      'tlsmesh_handshakes_total{direction="inbound",result="error",reason="protocol"} 1',
      'tlsmesh_connections_active{direction="inbound"} 2',
      'tlsmesh_connections_recycled_total{direction="inbound",cause="identity_rotated"} 1',
      'tlsmesh_connections_recycled_total{direction="inbound",cause="peer_expired"} 0',
    ].join('\n'),
  );
  s.metrics.frontend = parseMetrics(
    [
      'tlsmesh_handshakes_total{direction="outbound",result="error",reason="pin_mismatch"} 3',
      'tlsmesh_handshakes_total{direction="outbound",result="error",reason="untrusted"} 1',
      'tlsmesh_connections_recycled_total{direction="outbound",cause="peer_expired"} 2',
    ].join('\n'),
  );

  it('refusals by reason, with who counted them', () => {
    const r = Object.fromEntries(refusals(s).map((x) => [x.reason, [x.count, x.where]]));
    expect(r).toMatchObject({
      untrusted: [3, ['frontend outbound 1', 'backend inbound 2']],
      pin_mismatch: [3, ['frontend outbound 3']],
      protocol: [1, ['backend inbound 1']],
      expired: [0, []],
    });
  });

  it('the mTLS hop as the backend sees it', () => {
    expect(meshConnections(s)).toEqual({ open: 2, handshakes: 4, recycled: 3, byCause: { identity_rotated: 1, peer_expired: 2 } });
  });
});

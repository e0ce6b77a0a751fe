// The attacker: every few seconds one try against the mesh, each of which a
// sidecar must refuse. A try passes only when the attacker got nothing from
// the app AND the expected sidecar counted the expected reason in its own
// tlsmesh_handshakes_total (read from /metrics, not assumed).
import net from 'node:net';
import tls from 'node:tls';
import { request } from './http-get.js';
import { REFUSAL_REASONS } from '../identity/peer-check.js';
import { parseMetrics, sum } from './prom-text.js';
import type { AttackKind, AttackOutcome } from './state.js';
import type { Ports, Urls, Workload } from './topology.js';

export interface AttackSpec {
  /** The attacker's move, shown in the view. */
  what: string;
  /** The same, for a narrow view. */
  short: string;
  sidecar: Workload;
  direction: 'inbound' | 'outbound';
}

export const ATTACK_SPECS: Record<AttackKind, AttackSpec> = {
  untrusted: { what: 'mTLS with a certificate from another CA (claims sa/frontend)', short: 'cert from another CA', sidecar: 'backend', direction: 'inbound' },
  identity_denied: { what: 'mTLS with a real SVID of sa/intruder (not allowed)', short: 'SVID of sa/intruder', sidecar: 'backend', direction: 'inbound' },
  pin_mismatch: { what: "frontend route pinned to a key not in backend's chain", short: 'route pinned to another key', sidecar: 'frontend', direction: 'outbound' },
  protocol: { what: 'plaintext HTTP straight at the mTLS port', short: 'plaintext on the mTLS port', sidecar: 'backend', direction: 'inbound' },
};

export interface AttackerMaterial {
  /** Certificate and key from a CA the mesh does not trust. */
  untrusted: { cert: string; key: string };
  /** A valid SVID of the demo CA for an identity the backend does not allow. */
  intruder: { cert: string; key: string };
}

const STEAL = 'GET /api/secrets HTTP/1.1\r\nhost: backend\r\nconnection: close\r\n\r\n';

/** What the attacker's client got back on `s` (5 s at most): any HTTP 200 means the app answered it. */
function exchange(s: net.Socket, ready: 'connect' | 'secureConnect'): Promise<string> {
  return new Promise((resolve) => {
    let got = '';
    const timer = setTimeout(() => s.destroy(), 5000);
    s.on(ready, () => s.write(STEAL));
    s.on('data', (d: Buffer) => (got += d.toString('latin1')));
    s.on('error', () => {});
    s.on('close', () => {
      clearTimeout(timer);
      resolve(got);
    });
  });
}

const mtls = (port: number, id: { cert: string; key: string }) =>
  exchange(tls.connect({ host: '127.0.0.1', port, cert: id.cert, key: id.key, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] }), 'secureConnect');

const plaintext = (port: number) => exchange(net.connect({ host: '127.0.0.1', port }), 'connect');

async function refusalCounts(adminUrl: string, direction: string): Promise<Record<string, number> | undefined> {
  const r = await request(`${adminUrl}/metrics`);
  if (r.status !== 200) return undefined;
  const samples = parseMetrics(r.body, (n) => n === 'tlsmesh_handshakes_total');
  return Object.fromEntries(REFUSAL_REASONS.map((reason) => [reason, sum(samples, 'tlsmesh_handshakes_total', { direction, result: 'error', reason })]));
}

const breached = (reply: string) => /^HTTP\/1\.[01] 2\d\d/.test(reply);

export async function attack(kind: AttackKind, ports: Ports, urls: Urls, m: AttackerMaterial, now: () => number, deadlineMs = 5000): Promise<AttackOutcome> {
  const spec = ATTACK_SPECS[kind];
  const admin = urls.admin[spec.sidecar];
  const at = now();
  const before = await refusalCounts(admin, spec.direction);
  let reply: string;
  let answer = '';
  switch (kind) {
    case 'untrusted':
      reply = await mtls(ports.backendIn, m.untrusted);
      break;
    case 'identity_denied':
      reply = await mtls(ports.backendIn, m.intruder);
      break;
    case 'protocol':
      reply = await plaintext(ports.backendIn);
      break;
    case 'pin_mismatch': {
      const r = await request(`http://127.0.0.1:${ports.frontendPinned}/api/orders`, { timeoutMs: 5000 });
      reply = `HTTP/1.1 ${r.status} \r\n\r\n${r.body}`;
      answer = r.status === 0 ? '' : ` (the app got a ${r.status} from its sidecar)`;
      break;
    }
  }
  const who = `the ${spec.sidecar} sidecar (${spec.direction})`;
  if (breached(reply)) return { kind, at, ok: false, detail: `NOT REFUSED: the app answered ${reply.split('\r\n')[0]}` };
  if (!before) return { kind, at, ok: false, detail: `refused, but ${who} /metrics could not be read` };
  const deadline = now() + deadlineMs;
  for (;;) {
    const after = await refusalCounts(admin, spec.direction);
    if (after && after[kind]! > before[kind]!) return { kind, at, ok: true, detail: `refused by ${who}: ${kind}${answer}` };
    if (now() > deadline) {
      const other = after ? REFUSAL_REASONS.filter((r) => after[r]! > before[r]!) : [];
      const counted = other.length ? `counted ${other.join(', ')} instead` : 'counted no refusal';
      return { kind, at, ok: false, detail: `refused, but ${who} ${counted} (expected ${kind})` };
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

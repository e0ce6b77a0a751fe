// Transparent mTLS between two pods made of network namespaces, each with an
// app, a sidecar running as uid 1337 and the rules `tlsmesh init` writes:
//
//   A 198.18.0.1 ──veth── B 198.18.0.2      (meshNetworks: 198.18.0.0/24)
//   A 198.18.2.1 ──veth── C 198.18.2.3      (C: no sidecar, no certificate)
//   C 198.18.1.3 ──veth── B 198.18.1.2
//
// A's app calls http://198.18.0.2:8080/ exactly as without a mesh; the bytes on
// the A-B veth are TLS records only; B's app sees A's SPIFFE ID; B's metrics count
// the handshake. C is refused by B under `tls: mutual` and admitted under
// `permissive`; A calling C (outside meshNetworks) passes through in plaintext.
import { X509Certificate, createHash } from 'node:crypto';
import { chmodSync, chownSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, lstatSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab, eventually, needsRoot, sh, type Netns, type Proc } from '../support/netns.js';
import { allClosed, tcpFlows, tlsRecords, type Flow } from '../support/pcap.js';
import { CLI } from '../support/processes.js';

const PROBE = 'test/support/capture-probe.mjs';
const PROXY = 1337;
const TD = 'cluster.local';
const ID = { a: `spiffe://${TD}/ns/default/sa/a`, b: `spiffe://${TD}/ns/default/sa/b` };
const IP = { a: '198.18.0.1', b: '198.18.0.2', bFromC: '198.18.1.2', c: '198.18.2.3' };

function sidecarConfig(dir: string, tls: 'mutual' | 'permissive'): string {
  return `trustDomain: ${TD}
drainSeconds: 1
identity:
  dir: ${dir}
admin:
  listen: 127.0.0.1:15020
inbound:
  - listen: 0.0.0.0:15006
    forward: original
    protocol: http
    tls: ${tls}
outbound:
  - listen: 127.0.0.1:15001
    connect: original
    protocol: tcp
    meshNetworks: [ 198.18.0.0/24 ]
`;
}

/** The bytes are whole TLS records, application data among them. */
function wholeRecordsWithData(payload: Buffer): boolean {
  try {
    return tlsRecords(payload).some((r) => r.type === 23);
  } catch {
    return false;
  }
}

/** Recursively hand a directory to uid 1337 (kubelet mounts Secrets readable by the pod). */
function chownTree(path: string, uid: number): void {
  chownSync(path, uid, uid);
  if (lstatSync(path).isDirectory()) for (const f of readdirSync(path)) chownTree(join(path, f), uid);
}

interface Answer {
  status: number;
  body: { name: string; url: string; headers: Record<string, string>; remote: string };
}

describe.runIf(needsRoot('capture-two-pods'))('two pods, transparent mTLS', () => {
  let lab: Lab;
  let tmp: string;
  const ns = {} as Record<'a' | 'b' | 'c', Netns>;
  const apps = {} as Record<'b' | 'c', Proc>;
  let sidecarB: Proc;

  async function startSidecar(pod: 'a' | 'b', tls: 'mutual' | 'permissive'): Promise<Proc> {
    const config = join(tmp, `${pod}-${tls}.yaml`);
    writeFileSync(config, sidecarConfig(join(tmp, pod), tls));
    chmodSync(config, 0o644);
    const proc = ns[pod].spawn('node', [CLI, 'proxy', '--config', config], { uid: PROXY });
    await eventually(`sidecar ${pod} ready`, async () => ((await get(pod, 'http://127.0.0.1:15020/healthz/ready')).status === 200 ? true : undefined), 60_000);
    return proc;
  }

  /** An HTTP GET from inside a pod, as its app (not the proxy uid). */
  async function get(pod: 'a' | 'b' | 'c', url: string): Promise<{ status: number; text: string; error?: string }> {
    const r = await ns[pod].run('node', [PROBE, 'http-get', url], { allowFail: true });
    if (r.code !== 0) return { status: 0, text: '', error: r.stderr.trim() };
    const [status, ...rest] = r.stdout.split('\n');
    return { status: Number(status), text: rest.join('\n') };
  }

  async function call(pod: 'a' | 'c', url: string): Promise<Answer> {
    const r = await get(pod, url);
    if (r.error) throw new Error(`GET ${url} from ${pod}: ${r.error}`);
    return { status: r.status, body: JSON.parse(r.text) };
  }

  /** tlsmesh_handshakes_total samples of B's sidecar, keyed by `direction/result/reason`. */
  async function handshakes(): Promise<Map<string, number>> {
    const r = await get('b', 'http://127.0.0.1:15020/metrics');
    const out = new Map<string, number>();
    for (const m of r.text.matchAll(/^tlsmesh_handshakes_total\{([^}]*)\} (\S+)$/gm)) {
      const labels = Object.fromEntries([...m[1]!.matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]));
      out.set(`${labels.direction}/${labels.result}/${labels.reason}`, Number(m[2]));
    }
    return out;
  }

  /**
   * Capture TCP to or from `port` on a pod's interface while `during` runs, until
   * `settled` says every packet that matters is in (by default: every connection
   * seen is over, so no packet is still in flight).
   */
  async function capture(pod: 'b' | 'c', dev: string, port: number, during: () => Promise<void>, settled: (flows: Flow[]) => boolean = allClosed): Promise<Flow[]> {
    const file = join(tmp, `${pod}-${dev}-${Date.now()}.pcap`);
    const dump = ns[pod].spawn('tcpdump', ['-i', dev, '--immediate-mode', '-U', '-n', '-Z', 'root', '-w', file, 'tcp', 'port', String(port)]);
    await dump.waitFor(/listening on/, { stream: 'stderr' });
    try {
      await during();
      return await eventually(`every connection in the capture on ${pod}/${dev} closed`, () => {
        const flows = tcpFlows(readFileSync(file));
        return flows.length > 0 && settled(flows) ? flows : undefined;
      });
    } finally {
      await dump.stop();
    }
  }

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'tlsmesh-two-pods-'));
    chmodSync(tmp, 0o755);
    await sh('node', [CLI, 'ca', 'init', '--dir', join(tmp, 'ca'), '--trust-domain', TD]);
    for (const pod of ['a', 'b'] as const) {
      await sh('node', [CLI, 'ca', 'issue', '--ca', join(tmp, 'ca'), '--spiffe-id', ID[pod], '--out', join(tmp, pod)]);
      chownTree(join(tmp, pod), PROXY);
    }

    lab = await Lab.create();
    ns.a = await lab.netns('A');
    ns.b = await lab.netns('B');
    ns.c = await lab.netns('C');
    await lab.link(ns.a, `${IP.a}/24`, ns.b, `${IP.b}/24`);
    await lab.link(ns.c, '198.18.1.3/24', ns.b, `${IP.bFromC}/24`, 'eth0', 'eth1');
    await lab.link(ns.a, '198.18.2.1/24', ns.c, `${IP.c}/24`, 'eth1', 'eth1');
    for (const pod of ['a', 'b'] as const) await ns[pod].run('node', [CLI, 'init']);

    apps.b = ns.b.spawn('node', [PROBE, 'http-serve', 'B-app', '8080']);
    apps.c = ns.c.spawn('node', [PROBE, 'http-serve', 'C-app', '8080']);
    await Promise.all([apps.b.waitFor(/listening/), apps.c.waitFor(/listening/)]);
    await startSidecar('a', 'mutual');
    sidecarB = await startSidecar('b', 'mutual');
  }, 180_000);

  afterAll(async () => {
    await lab?.dispose();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it("A's app calls B by its address and gets B's answer over mTLS, with A's identity", async () => {
    const before = await handshakes();
    const marker = `plaintext-marker-${process.pid}-${Date.now()}`;
    let answer: Answer | undefined;
    // A's sidecar keeps its multiplexed connection to B open after the call
    // (docs/multiplexing.md): the capture is complete once both directions
    // hold whole TLS records with application data (the answer is in by then).
    const flows = await capture(
      'b',
      'eth0',
      8080,
      async () => {
        answer = await call('a', `http://${IP.b}:8080/${marker}`);
      },
      (all) => {
        const both = [all.filter((f) => f.key.endsWith(`>${IP.b}:8080`)), all.filter((f) => f.key.startsWith(`${IP.b}:8080>`))];
        return both.every((dir) => dir.length > 0 && dir.every((f) => wholeRecordsWithData(f.payload)));
      },
    );

    expect(answer!.status).toBe(200);
    expect(answer!.body.name).toBe('B-app');
    expect(answer!.body.url).toBe(`/${marker}`);
    const leaf = new X509Certificate(readFileSync(join(tmp, 'a', 'tls.crt')));
    const hash = createHash('sha256').update(leaf.raw).digest('hex');
    expect(answer!.body.headers['x-forwarded-client-cert']).toBe(`By=${ID.b};Hash=${hash};URI=${ID.a}`);

    const after = await handshakes();
    expect(after.get('inbound/ok/') ?? 0).toBeGreaterThan(before.get('inbound/ok/') ?? 0);

    const toB = flows.filter((f) => f.key.endsWith(`>${IP.b}:8080`));
    const fromB = flows.filter((f) => f.key.startsWith(`${IP.b}:8080>`));
    expect(toB.length).toBeGreaterThan(0);
    expect(fromB.length).toBeGreaterThan(0);
    for (const f of [...toB, ...fromB]) {
      const records = tlsRecords(f.payload); // throws on any byte outside a TLS record
      expect(records.some((r) => r.type === 23), `${f.key} carries application data`).toBe(true);
      expect(f.payload.includes(marker), `${f.key} leaks the plaintext`).toBe(false);
    }
  });

  it('refuses a client without a certificate under tls: mutual; its request never reaches the app', async () => {
    const before = await handshakes();
    const r = await get('c', `http://${IP.bFromC}:8080/from-c-mutual`);
    expect(r.status).toBe(0);
    expect(r.error).toMatch(/^error /);
    expect(apps.b.stdout).not.toContain('/from-c-mutual');
    const after = await handshakes();
    const errors = (m: Map<string, number>) => [...m].filter(([k]) => k.startsWith('inbound/error/')).reduce((n, [, v]) => n + v, 0);
    expect(errors(after)).toBeGreaterThan(errors(before));
  });

  it('admits the same client under tls: permissive, without an identity header', { timeout: 90_000 }, async () => {
    await sidecarB.stop();
    sidecarB = await startSidecar('b', 'permissive');
    const answer = await call('c', `http://${IP.bFromC}:8080/from-c-permissive`);
    expect(answer.status).toBe(200);
    expect(answer.body.name).toBe('B-app');
    expect(answer.body.headers['x-forwarded-client-cert']).toBeUndefined();
    // A, a mesh client, still gets in with its identity.
    const fromA = await call('a', `http://${IP.b}:8080/from-a-permissive`);
    expect(fromA.body.headers['x-forwarded-client-cert']).toMatch(new RegExp(`;URI=${ID.a}$`));
  });

  it('A calling an address outside meshNetworks passes through in plaintext', async () => {
    const marker = `outside-mesh-${process.pid}-${Date.now()}`;
    let answer: Answer | undefined;
    const flows = await capture('c', 'eth1', 8080, async () => {
      answer = await call('a', `http://${IP.c}:8080/${marker}`);
    });
    expect(answer!.status).toBe(200);
    expect(answer!.body.name).toBe('C-app');
    expect(answer!.body.remote).toBe('198.18.2.1');
    expect(answer!.body.headers['x-forwarded-client-cert']).toBeUndefined();
    const toC = flows.filter((f) => f.key.endsWith(`>${IP.c}:8080`));
    expect(Buffer.concat(toC.map((f) => f.payload)).toString('latin1')).toContain(`GET /${marker} HTTP/1.1`);
  });
});

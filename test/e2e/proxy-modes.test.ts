// tls: server (offload: any client), tls: permissive (mTLS or plaintext on one
// port, told apart by the first byte), and bridging with upstreamTls.
import { once } from 'node:events';
import https from 'node:https';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ca, identity, leaf, tempDir, writeSecret, type Issued, type TestCa } from '../support/pki.js';
import { echoApp, httpGet, metric, startSidecar, type EchoApp, type SidecarHandle } from '../support/mesh.js';
import { eventually, freePorts, killAll, startProcess, writeYaml } from '../support/processes.js';
import { tryTls } from '../support/tls-client.js';

const TD = 'cluster.local';
const FRONTEND = `spiffe://${TD}/ns/default/sa/frontend`;
const tmp = tempDir();
let root: TestCa;
let appCa: TestCa;
let app: EchoApp;
let tlsApp: https.Server;
let side: SidecarHandle;
let client: Issued;
let ports: Record<'server' | 'permissive' | 'permissiveTcp' | 'bridge' | 'bridgeWrongName' | 'admin' | 'tlsApp', number>;

beforeAll(async () => {
  root = await ca({ trustDomain: TD });
  appCa = await ca({ name: 'app CA' });
  const me = await identity(root, `spiffe://${TD}/ns/default/sa/backend`, { dnsNames: ['backend.default.svc'] });
  await writeSecret(join(tmp.dir, 'id'), me.files);
  client = await leaf({ issuer: root, spiffeId: FRONTEND });
  app = await echoApp();
  const [server, permissive, permissiveTcp, bridge, bridgeWrongName, admin, tlsAppPort] = await freePorts(7);
  ports = { server: server!, permissive: permissive!, permissiveTcp: permissiveTcp!, bridge: bridge!, bridgeWrongName: bridgeWrongName!, admin: admin!, tlsApp: tlsAppPort! };
  // The app behind a bridging listener speaks TLS itself, with a certificate from its own CA.
  const appCert = await leaf({ issuer: appCa, dnsNames: ['app.local'], cn: 'app.local' });
  tlsApp = https.createServer({ key: appCert.key.privatePem, cert: appCert.certPem }, (req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ tls: true, xfcc: req.headers['x-forwarded-client-cert'] ?? null }));
  });
  tlsApp.listen(ports.tlsApp, '127.0.0.1');
  await once(tlsApp, 'listening');
  const appCaFile = writeYaml(tmp.dir, 'app-ca.pem', appCa.certPem);
  const fwd = `127.0.0.1:${app.port}`;
  side = await startSidecar(tmp.dir, 'side', {
    trustDomain: TD,
    identity: { dir: join(tmp.dir, 'id') },
    admin: { listen: `127.0.0.1:${ports.admin}` },
    inbound: [
      { listen: `127.0.0.1:${ports.server}`, forward: fwd, protocol: 'http', tls: 'server' },
      { listen: `127.0.0.1:${ports.permissive}`, forward: fwd, protocol: 'http', tls: 'permissive', allow: [FRONTEND] },
      { listen: `127.0.0.1:${ports.permissiveTcp}`, forward: fwd, protocol: 'tcp', tls: 'permissive', allow: [FRONTEND] },
      { listen: `127.0.0.1:${ports.bridge}`, forward: `127.0.0.1:${ports.tlsApp}`, protocol: 'http', allow: [FRONTEND], upstreamTls: { ca: appCaFile, serverName: 'app.local' } },
      { listen: `127.0.0.1:${ports.bridgeWrongName}`, forward: `127.0.0.1:${ports.tlsApp}`, protocol: 'http', allow: [FRONTEND], upstreamTls: { ca: appCaFile, serverName: 'other.local' } },
    ],
  });
});

afterAll(async () => {
  await killAll();
  await app?.close();
  tlsApp?.close();
  tmp.cleanup();
});

function httpsGet(port: number, path: string, withCert: boolean): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.get(
      { host: '127.0.0.1', port, path, servername: 'backend.default.svc', ca: root.certPem, agent: false, ...(withCert ? { cert: client.certPem, key: client.key.privatePem } : {}) },
      (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
  });
}

describe('tls: server (TLS offload)', () => {
  it('serves a client without a certificate, verified by the client against the DNS SAN, with no identity header', async () => {
    const r = await httpsGet(ports.server, '/offload', false);
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body).headers['x-forwarded-client-cert']).toBeUndefined();
  });

  it('works with openssl s_client as the client', async () => {
    const p = startProcess('openssl', ['s_client', '-quiet', '-connect', `127.0.0.1:${ports.server}`, '-servername', 'backend.default.svc', '-verify_return_error', '-CAfile', join(tmp.dir, 'id', 'ca.crt')]);
    p.child.stdin?.write('GET /openssl HTTP/1.1\r\nHost: backend\r\nConnection: close\r\n\r\n');
    await eventually(() => p.stdout().includes('"url":"/openssl"'), 'a response through openssl s_client');
    p.kill();
  });
});

describe('tls: permissive', () => {
  it('admits plaintext http, without an identity header even when the client sends one', async () => {
    const r = await httpGet(`http://127.0.0.1:${ports.permissive}/plain`, { 'x-forwarded-client-cert': 'URI=spiffe://cluster.local/ns/default/sa/admin' });
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body).headers['x-forwarded-client-cert']).toBeUndefined();
  });

  it('admits mTLS on the same port, with the identity header', async () => {
    const r = await httpsGet(ports.permissive, '/mtls', true);
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body).headers['x-forwarded-client-cert']).toContain(`URI=${FRONTEND}`);
  });

  it('still refuses a TLS client without a certificate, and counts it', async () => {
    const before = metric(await side.metrics(), 'tlsmesh_handshakes_total', { direction: 'inbound', result: 'error', reason: 'no_peer_cert' }) ?? 0;
    await expect(httpsGet(ports.permissive, '/nocert', false)).rejects.toThrow();
    await eventually(async () => metric(await side.metrics(), 'tlsmesh_handshakes_total', { direction: 'inbound', result: 'error', reason: 'no_peer_cert' }) === before + 1, 'no_peer_cert counted');
    expect(app.requests.some((r) => r.url === '/nocert')).toBe(false);
  });

  it('tcp: plaintext and mTLS both reach the app', async () => {
    const plain = await httpGet(`http://127.0.0.1:${ports.permissiveTcp}/tcp-plain`);
    expect(plain.status).toBe(200);
    const viaTls = await tryTls({ port: ports.permissiveTcp, cert: client.certPem, key: client.key.privatePem, ca: root.certPem, send: 'GET /tcp-tls HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' });
    expect(viaTls.data).toContain('"url":"/tcp-tls"');
  });
});

describe('bridging (upstreamTls)', () => {
  it('re-encrypts to the app, verifying its certificate and name', async () => {
    const r = await httpsGet(ports.bridge, '/bridge', true);
    expect(r.status).toBe(200);
    const body = JSON.parse(r.body);
    expect(body.tls).toBe(true);
    expect(body.xfcc).toContain(`URI=${FRONTEND}`);
  });

  it('fails closed with 502 when the app certificate does not match the expected name', async () => {
    const before = metric(await side.metrics(), 'tlsmesh_upstream_errors_total', { direction: 'inbound', kind: 'tls' }) ?? 0;
    const r = await httpsGet(ports.bridgeWrongName, '/wrong-name', true);
    expect(r.status).toBe(502);
    expect(r.body).toContain('identity_denied');
    expect(metric(await side.metrics(), 'tlsmesh_upstream_errors_total', { direction: 'inbound', kind: 'tls' })).toBe(before + 1);
  });
});

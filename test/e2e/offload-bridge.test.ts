// Bridging at the edge: an offload listener with its own WebPKI certificate
// re-encrypts to a TLS app, verifying the app's certificate (its CA, its name,
// pins). A wrong app certificate makes the listener refuse to forward: 502,
// counted, and the app never sees the request.
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ca, identity, tempDir, writeSecret, type Issued, type TestCa } from '../support/pki.js';
import { metric, startSidecar, type SidecarHandle } from '../support/mesh.js';
import { freePorts, killAll } from '../support/processes.js';
import { curlResolve, webCert, writeWebSecret } from '../support/offload.js';
import { spkiPinOf } from '../../proxy/src/identity/pin.js';

const TD = 'cluster.local';
const tmp = tempDir();
let webCa: TestCa;
let webCaFile: string;
let side: SidecarHandle;
const apps: { name: string; server: https.Server; port: number; seen: string[] }[] = [];
let ports: Record<'good' | 'rogue' | 'otherKey' | 'wrongName' | 'pinned' | 'admin', number>;

async function tlsApp(name: string, cert: Issued): Promise<(typeof apps)[number]> {
  const seen: string[] = [];
  const server = https.createServer({ key: cert.key.privatePem, cert: cert.certPem }, (req, res) => {
    seen.push(req.url ?? '');
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ app: name, url: req.url, proto: req.headers['x-forwarded-proto'], tls: true }));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const app = { name, server, port: (server.address() as AddressInfo).port, seen };
  apps.push(app);
  return app;
}

beforeAll(async () => {
  const root = await ca({ trustDomain: TD });
  await writeSecret(join(tmp.dir, 'id'), (await identity(root, `spiffe://${TD}/ns/default/sa/edge`)).files);
  webCa = await ca({ name: 'web CA' });
  webCaFile = join(tmp.dir, 'web-ca.pem');
  writeFileSync(webCaFile, webCa.certPem);
  const site = await webCert(webCa, ['shop.example.test']);
  await writeWebSecret(join(tmp.dir, 'shop'), { cert: site.certPem, key: site.key.privatePem, ca: webCa.certPem });

  const appCa = await ca({ name: 'app CA' });
  const rogueCa = await ca({ name: 'rogue CA' });
  const appCaFile = join(tmp.dir, 'app-ca.pem');
  writeFileSync(appCaFile, appCa.certPem);
  const goodCert = await webCert(appCa, ['app.internal']);
  const good = await tlsApp('good', goodCert);
  const rogue = await tlsApp('rogue', await webCert(rogueCa, ['app.internal']));
  const otherKey = await tlsApp('other-key', await webCert(appCa, ['app.internal']));
  const wrongName = await tlsApp('wrong-name', await webCert(appCa, ['other.internal']));
  const pin = spkiPinOf(new X509Certificate(goodCert.der));
  const backupPin = spkiPinOf(new X509Certificate((await webCert(appCa, ['backup.internal'])).der));

  const [g, r, o, w, p, admin] = await freePorts(6);
  ports = { good: g!, rogue: r!, otherKey: o!, wrongName: w!, pinned: p!, admin: admin! };
  const edge = (name: string, port: number, app: number, upstreamTls: Record<string, unknown>) => ({
    name,
    listen: `127.0.0.1:${port}`,
    forward: `127.0.0.1:${app}`,
    protocol: 'http',
    tls: 'server',
    certificates: [{ dir: join(tmp.dir, 'shop') }],
    upstreamTls: { ca: appCaFile, serverName: 'app.internal', ...upstreamTls },
  });
  side = await startSidecar(tmp.dir, 'edge', {
    trustDomain: TD,
    identity: { dir: join(tmp.dir, 'id') },
    admin: { listen: `127.0.0.1:${ports.admin}` },
    inbound: [
      edge('good', ports.good, good.port, { pins: [pin, backupPin] }),
      edge('rogue', ports.rogue, rogue.port, {}),
      edge('other-key', ports.otherKey, otherKey.port, { pins: [pin, backupPin] }),
      edge('wrong-name', ports.wrongName, wrongName.port, {}),
      edge('pinned-good', ports.pinned, good.port, { pins: [pin, backupPin] }),
    ],
  });
});

afterAll(async () => {
  await killAll();
  for (const a of apps) a.server.close();
  tmp.cleanup();
});

const tlsErrors = async () => metric(await side.metrics(), 'tlsmesh_upstream_errors_total', { direction: 'inbound', kind: 'tls' }) ?? 0;

describe('bridging (termination at the edge, TLS again to the app)', () => {
  it('re-encrypts to the app after verifying its CA, name and pin; the client sees the edge certificate', async () => {
    const r = await curlResolve('shop.example.test', ports.good, '/bridged', { cacert: webCaFile });
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toMatchObject({ app: 'good', url: '/bridged', proto: 'https', tls: true });
  });

  it.each([
    ['an app certificate from another CA', 'rogue', 'rogue', 'untrusted'],
    ['an app key that matches no pin', 'otherKey', 'other-key', 'pin_mismatch'],
    ['an app certificate for another name', 'wrongName', 'wrong-name', 'identity_denied'],
  ] as const)('%s: 502, counted, nothing reaches the app', async (_case, port, app, reason) => {
    const before = await tlsErrors();
    const path = `/must-not-arrive-${app}`;
    const r = await curlResolve('shop.example.test', ports[port], path, { cacert: webCaFile, extra: ['-w', '\n%{http_code}'] });
    const lines = r.stdout.trimEnd().split('\n');
    const code = lines.pop();
    const body = lines.join('\n');
    expect(code).toBe('502');
    expect(body).toContain(reason);
    expect(await tlsErrors()).toBe(before + 1);
    expect(apps.find((a) => a.name === app)!.seen).toEqual([]);
  });

  it('the pinned listener to the right app still works after refusals elsewhere', async () => {
    const r = await curlResolve('shop.example.test', ports.pinned, '/pinned', { cacert: webCaFile });
    expect(JSON.parse(r.stdout).app).toBe('good');
  });
});

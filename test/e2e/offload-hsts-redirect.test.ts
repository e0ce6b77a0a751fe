// SSL-stripping defence: HSTS on every response of an http offload listener
// (the app's answers, the app's own HSTS header replaced, the proxy's own 502),
// and a plaintext listener that only answers 308 to https and forwards nothing.
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ca, identity, tempDir, writeSecret } from '../support/pki.js';
import { echoApp, httpGet, metric, startSidecar, type EchoApp, type SidecarHandle } from '../support/mesh.js';
import { freePorts, killAll } from '../support/processes.js';
import { curlResolve, run, webCert, writeWebSecret } from '../support/offload.js';

const TD = 'cluster.local';
const HSTS = 'max-age=63072000; includeSubDomains; preload';
const tmp = tempDir();
let webCaFile: string;
let app: EchoApp;
let hstsApp: http.Server;
let side: SidecarHandle;
let ports: Record<'edge' | 'redirect' | 'appHsts' | 'down' | 'alt' | 'altRedirect' | 'admin' | 'hstsAppPort', number>;
/** The same HSTS listeners on a sidecar running the node:http engine (TLSMESH_HTTP_ENGINE=node). */
let nodePorts: Record<'edge' | 'appHsts' | 'down', number>;

beforeAll(async () => {
  const root = await ca({ trustDomain: TD });
  await writeSecret(join(tmp.dir, 'id'), (await identity(root, `spiffe://${TD}/ns/default/sa/edge`)).files);
  const webCa = await ca({ name: 'web CA' });
  webCaFile = join(tmp.dir, 'web-ca.pem');
  writeFileSync(webCaFile, webCa.certPem);
  const site = await webCert(webCa, ['www.example.test']);
  await writeWebSecret(join(tmp.dir, 'www'), { cert: site.certPem, key: site.key.privatePem, ca: webCa.certPem });
  app = await echoApp();
  // An app that sets its own, weaker HSTS header.
  hstsApp = http.createServer((_req, res) => {
    res.writeHead(200, { 'strict-transport-security': 'max-age=60', 'content-type': 'text/plain' });
    res.end('app with its own hsts');
  });
  hstsApp.listen(0, '127.0.0.1');
  await once(hstsApp, 'listening');
  const [edge, redirect, appHsts, down, alt, altRedirect, admin, dead] = await freePorts(8);
  ports = { edge: edge!, redirect: redirect!, appHsts: appHsts!, down: down!, alt: alt!, altRedirect: altRedirect!, admin: admin!, hstsAppPort: (hstsApp.address() as AddressInfo).port };
  const offload = (port: number, forward: string, extra: Record<string, unknown> = {}) => ({
    listen: `127.0.0.1:${port}`,
    forward,
    protocol: 'http',
    tls: 'server',
    certificates: [{ dir: join(tmp.dir, 'www') }],
    hsts: { maxAge: 63072000, includeSubDomains: true, preload: true },
    ...extra,
  });
  const [nEdge, nAppHsts, nDown, nAdmin] = await freePorts(4);
  nodePorts = { edge: nEdge!, appHsts: nAppHsts!, down: nDown! };
  process.env.TLSMESH_HTTP_ENGINE = 'node';
  try {
    await startSidecar(tmp.dir, 'edge-node', {
      trustDomain: TD,
      identity: { dir: join(tmp.dir, 'id') },
      admin: { listen: `127.0.0.1:${nAdmin}` },
      inbound: [
        offload(nodePorts.edge, `127.0.0.1:${app.port}`, { name: 'edge' }),
        offload(nodePorts.appHsts, `127.0.0.1:${ports.hstsAppPort}`, { name: 'app-hsts' }),
        offload(nodePorts.down, `127.0.0.1:${dead}`, { name: 'down' }),
      ],
    });
  } finally {
    delete process.env.TLSMESH_HTTP_ENGINE;
  }
  side = await startSidecar(tmp.dir, 'edge', {
    trustDomain: TD,
    identity: { dir: join(tmp.dir, 'id') },
    admin: { listen: `127.0.0.1:${ports.admin}` },
    inbound: [
      offload(ports.edge, `127.0.0.1:${app.port}`, { name: 'edge', redirect: { listen: `127.0.0.1:${ports.redirect}` } }),
      offload(ports.appHsts, `127.0.0.1:${ports.hstsAppPort}`, { name: 'app-hsts' }),
      offload(ports.down, `127.0.0.1:${dead}`, { name: 'down' }),
      offload(ports.alt, `127.0.0.1:${app.port}`, { name: 'alt', hsts: undefined, redirect: { listen: `127.0.0.1:${ports.altRedirect}`, httpsPort: 8443 } }),
    ],
  });
});

afterAll(async () => {
  await killAll();
  await app?.close();
  hstsApp?.close();
  tmp.cleanup();
});

function headerLines(out: string, name: string): string[] {
  return out.split(/\r?\n/).filter((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`)).map((l) => l.slice(name.length + 1).trim());
}

describe.each(['h1', 'node'] as const)('HSTS (%s engine)', (engine) => {
  const p = () => (engine === 'h1' ? ports : nodePorts);

  it('is on the app response, exactly once and exactly as configured', async () => {
    const r = await curlResolve('www.example.test', p().edge, '/hsts', { cacert: webCaFile, extra: ['-D', '-'] });
    expect(r.stdout).toMatch(/^HTTP\/1\.1 200/);
    expect(headerLines(r.stdout, 'strict-transport-security')).toEqual([HSTS]);
  });

  it("replaces the app's own Strict-Transport-Security header", async () => {
    const r = await curlResolve('www.example.test', p().appHsts, '/', { cacert: webCaFile, extra: ['-D', '-'] });
    expect(r.stdout).toContain('app with its own hsts');
    expect(headerLines(r.stdout, 'strict-transport-security')).toEqual([HSTS]);
  });

  it("is on the proxy's own 502 when the app is down", async () => {
    const r = await curlResolve('www.example.test', p().down, '/', { cacert: webCaFile, extra: ['-D', '-'] });
    expect(r.stdout).toMatch(/^HTTP\/1\.1 502/);
    expect(headerLines(r.stdout, 'strict-transport-security')).toEqual([HSTS]);
  });

  it.skipIf(engine === 'node')('is absent from a listener without hsts', async () => {
    const r = await curlResolve('www.example.test', ports.alt, '/', { cacert: webCaFile, extra: ['-D', '-'] });
    expect(r.stdout).toMatch(/^HTTP\/1\.1 200/);
    expect(headerLines(r.stdout, 'strict-transport-security')).toEqual([]);
  });
});

describe('the redirect listener', () => {
  it.each([
    ['GET', 'www.example.test', '/some/path?q=1&r=2', 'https://www.example.test/some/path?q=1&r=2'],
    ['GET', 'www.example.test:80', '/', 'https://www.example.test/'],
    ['POST', 'www.example.test', '/form', 'https://www.example.test/form'],
    ['GET', 'other.example.test', '/.well-known/acme-challenge/abc', 'https://other.example.test/.well-known/acme-challenge/abc'],
  ])('%s Host %s %s -> 308 %s, and nothing reaches the app', async (method, host, path, location) => {
    const before = app.requests.length;
    const r = await run('curl', ['-sS', '-o', '/dev/null', '-X', method, '-H', `Host: ${host}`, '-w', '%{http_code} %{redirect_url}', `http://127.0.0.1:${ports.redirect}${path}`]);
    expect(r.stdout).toBe(`308 ${location}`);
    expect(app.requests.length).toBe(before);
  });

  it('puts the https port in the Location when it is not 443 (and /offload shows where it listens)', async () => {
    const doc = JSON.parse((await side.get('/offload')).body);
    expect(doc.listeners.find((l: { name: string }) => l.name === 'alt').redirect).toEqual({ host: '127.0.0.1', port: ports.altRedirect });
    const r = await httpGet(`http://127.0.0.1:${ports.altRedirect}/x`, { host: 'www.example.test' });
    expect(r.status).toBe(308);
    expect(r.headers.location).toBe('https://www.example.test:8443/x');
  });

  it('answers 400 to a request without a usable Host header, and forwards nothing', async () => {
    const before = app.requests.length;
    const raw = await run('sh', ['-c', `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | curl -sS telnet://127.0.0.1:${ports.redirect} --max-time 5`]);
    expect(raw.stdout).toMatch(/^HTTP\/1\.1 400/);
    const bad = await httpGet(`http://127.0.0.1:${ports.redirect}/`, { host: 'evil.example.test/x' });
    expect(bad.status).toBe(400);
    expect(app.requests.length).toBe(before);
  });

  it('curl -L follows it to the https listener, which serves with HSTS', async () => {
    const r = await run('curl', ['-sS', '-L', '-D', '-', '--cacert', webCaFile, '--resolve', `www.example.test:80:127.0.0.1`, '--resolve', `www.example.test:443:127.0.0.1`, '--connect-to', `www.example.test:80:127.0.0.1:${ports.redirect}`, '--connect-to', `www.example.test:443:127.0.0.1:${ports.edge}`, 'http://www.example.test/followed']);
    expect(r.stdout).toMatch(/^HTTP\/1\.1 308/);
    expect(r.stdout).toContain('"url":"/followed"');
    expect(headerLines(r.stdout, 'strict-transport-security')).toEqual([HSTS]);
  });

  it('counts what it answered', async () => {
    const text = await side.metrics();
    expect(metric(text, 'tlsmesh_offload_redirect_requests_total', { listener: 'edge', result: 'redirect' })).toBeGreaterThanOrEqual(4);
    expect(metric(text, 'tlsmesh_offload_redirect_requests_total', { listener: 'edge', result: 'bad_request' })).toBeGreaterThanOrEqual(2);
  });
});

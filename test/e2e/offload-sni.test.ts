// An offload listener with several WebPKI certificates chosen by SNI: exact
// names, a wildcard, a default for clients without SNI or with an unknown
// name, strictSni refusing unknown names; per-name metrics; a kubelet-style
// rotation served with no failed request; a bad update refused.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import https from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ca, chainPem, identity, tempDir, writeSecret, type Issued, type TestCa } from '../support/pki.js';
import { echoApp, metric, startSidecar, type EchoApp, type SidecarHandle } from '../support/mesh.js';
import { eventually, freePorts, killAll } from '../support/processes.js';
import { curlResolve, opensslServed, serialOf, servedSerial, webCert, writeWebSecret } from '../support/offload.js';

const TD = 'cluster.local';
const tmp = tempDir();
let webCa: TestCa;
let webCaFile: string;
let app: EchoApp;
let side: SidecarHandle;
let certs: Record<'www' | 'apps' | 'fallback', Issued>;
let ports: Record<'edge' | 'strict' | 'admin', number>;
const dirs = { www: join(tmp.dir, 'www'), apps: join(tmp.dir, 'apps'), fallback: join(tmp.dir, 'default') };

beforeAll(async () => {
  const root = await ca({ trustDomain: TD });
  await writeSecret(join(tmp.dir, 'id'), (await identity(root, `spiffe://${TD}/ns/default/sa/edge`)).files);
  webCa = await ca({ name: 'web CA' });
  webCaFile = join(tmp.dir, 'web-ca.pem');
  writeFileSync(webCaFile, webCa.certPem);
  // The wildcard comes through an intermediate, with no ca.crt: a "public" chain checked for order only.
  const inter = await ca({ name: 'web intermediate', issuer: webCa });
  certs = {
    www: await webCert(webCa, ['www.example.test', 'example.test']),
    apps: await webCert(inter, ['*.apps.example.test']),
    fallback: await webCert(webCa, ['default.example.test']),
  };
  await writeWebSecret(dirs.www, { cert: certs.www.certPem, key: certs.www.key.privatePem, ca: webCa.certPem });
  await writeWebSecret(dirs.apps, { cert: chainPem(certs.apps, inter), key: certs.apps.key.privatePem });
  await writeWebSecret(dirs.fallback, { cert: certs.fallback.certPem, key: certs.fallback.key.privatePem, ca: webCa.certPem });
  app = await echoApp();
  const [edge, strict, admin] = await freePorts(3);
  ports = { edge: edge!, strict: strict!, admin: admin! };
  const certificates = [{ dir: dirs.www, names: ['www.example.test', 'example.test'] }, { dir: dirs.apps }, { dir: dirs.fallback, names: ['default.example.test'] }];
  side = await startSidecar(tmp.dir, 'edge', {
    trustDomain: TD,
    identity: { dir: join(tmp.dir, 'id') },
    admin: { listen: `127.0.0.1:${ports.admin}` },
    inbound: [
      { name: 'edge', listen: `127.0.0.1:${ports.edge}`, forward: `127.0.0.1:${app.port}`, protocol: 'http', tls: 'server', certificates, defaultCertificate: 'default.example.test' },
      { name: 'strict', listen: `127.0.0.1:${ports.strict}`, forward: `127.0.0.1:${app.port}`, protocol: 'http', tls: 'server', certificates, strictSni: true },
    ],
  });
});

afterAll(async () => {
  await killAll();
  await app?.close();
  tmp.cleanup();
});

const handshakes = async (listener: string, serverName: string, result: string, reason = '') =>
  metric(await side.metrics(), 'tlsmesh_offload_handshakes_total', { listener, server_name: serverName, result, reason }) ?? 0;

describe('SNI selection with curl --resolve', () => {
  it.each([
    ['exact name', 'www.example.test', '/exact'],
    ['second SAN of the same certificate', 'example.test', '/apex'],
    ['wildcard', 'a.apps.example.test', '/wild'],
  ])('%s: %s verifies against the web CA and reaches the app', async (_case, name, path) => {
    const r = await curlResolve(name, ports.edge, path, { cacert: webCaFile });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).url).toBe(path);
    expect(JSON.parse(r.stdout).headers['x-forwarded-proto']).toBe('https');
  });

  it.each([
    ['a name the wildcard does not cover (two labels)', 'a.b.apps.example.test'],
    ['an unknown name', 'unknown.other.test'],
  ])('%s gets the default certificate, which curl refuses to verify', async (_case, name) => {
    const r = await curlResolve(name, ports.edge, '/nope', { cacert: webCaFile });
    expect(r.code).toBe(60); // CURLE_PEER_FAILED_VERIFICATION: the default cert does not name it
    expect(app.requests.some((q) => q.url === '/nope')).toBe(false);
  });
});

describe('SNI selection with openssl s_client -servername', () => {
  it.each([
    ['www.example.test', 'www'],
    ['example.test', 'www'],
    ['x.apps.example.test', 'apps'],
    ['X.Apps.Example.Test', 'apps'],
    ['default.example.test', 'fallback'],
    ['a.b.apps.example.test', 'fallback'],
    ['unknown.other.test', 'fallback'],
    [undefined, 'fallback'],
  ] as const)('-servername %s is served the %s certificate', async (name, which) => {
    const { cert, out } = await opensslServed(ports.edge, name);
    expect(cert, out.stderr).toBeDefined();
    expect(cert!.serialNumber.toLowerCase().replace(/^0+/, '')).toBe(serialOf(certs[which]));
  });

  it('serves the intermediate with the wildcard leaf (chain as in tls.crt)', async () => {
    const { out } = await opensslServed(ports.edge, 'x.apps.example.test', ['-showcerts', '-CAfile', webCaFile, '-verify_return_error']);
    expect(out.stdout).toContain('Verify return code: 0 (ok)');
    expect(out.stdout.match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
  });

  it('strictSni: an unknown name fails the handshake and is counted; known names and no SNI still work', async () => {
    const before = await handshakes('strict', '(unknown)', 'error', 'unknown_name');
    const { cert } = await opensslServed(ports.strict, 'unknown.other.test');
    expect(cert).toBeUndefined();
    await eventually(async () => (await handshakes('strict', '(unknown)', 'error', 'unknown_name')) === before + 1, 'unknown_name counted');
    expect((await opensslServed(ports.strict, 'www.example.test')).cert?.serialNumber.toLowerCase().replace(/^0+/, '')).toBe(serialOf(certs.www));
    // No defaultCertificate: the first certificate answers clients without SNI.
    expect((await opensslServed(ports.strict, undefined)).cert?.serialNumber.toLowerCase().replace(/^0+/, '')).toBe(serialOf(certs.www));
  });
});

describe('metrics per server name', () => {
  it('counts handshakes under the configured name or pattern, never the raw SNI', async () => {
    await curlResolve('zz9.apps.example.test', ports.edge, '/count', { cacert: webCaFile });
    const text = await side.metrics();
    expect(metric(text, 'tlsmesh_offload_handshakes_total', { listener: 'edge', server_name: '*.apps.example.test', result: 'ok', reason: '' })).toBeGreaterThan(0);
    expect(metric(text, 'tlsmesh_offload_handshakes_total', { listener: 'edge', server_name: 'www.example.test', result: 'ok', reason: '' })).toBeGreaterThan(0);
    expect(metric(text, 'tlsmesh_offload_handshakes_total', { listener: 'edge', server_name: '(unknown)', result: 'ok', reason: '' })).toBeGreaterThan(0);
    expect(metric(text, 'tlsmesh_offload_handshakes_total', { listener: 'edge', server_name: '(none)', result: 'ok', reason: '' })).toBeGreaterThan(0);
    expect(text).not.toContain('zz9');
    expect(text).not.toContain('unknown.other.test');
  });

  it('exports the expiry of the certificate behind every name', async () => {
    const text = await side.metrics();
    const expiry = (name: string) => metric(text, 'tlsmesh_offload_certificate_expiry_timestamp_seconds', { listener: 'edge', server_name: name });
    const notAfter = (c: Issued) => Math.floor(c.cert.notAfter.getTime() / 1000);
    expect(expiry('www.example.test')).toBe(notAfter(certs.www));
    expect(expiry('example.test')).toBe(notAfter(certs.www));
    expect(expiry('*.apps.example.test')).toBe(notAfter(certs.apps));
    expect(expiry('default.example.test')).toBe(notAfter(certs.fallback));
  });
});

describe('rotation', () => {
  it('serves a rotated certificate after the ..data swap with no failed request', async () => {
    let failures = 0;
    let requests = 0;
    let stop = false;
    const errors: string[] = [];
    const load = (async () => {
      while (!stop) {
        requests += 1;
        await new Promise<void>((resolve) => {
          const req = https.get({ host: '127.0.0.1', port: ports.edge, path: '/load', servername: 'www.example.test', ca: webCa.certPem, agent: false }, (res) => {
            res.resume();
            res.on('end', () => {
              if (res.statusCode !== 200) {
                failures += 1;
                errors.push(`status ${res.statusCode}`);
              }
              resolve();
            });
          });
          req.on('error', (e) => {
            failures += 1;
            errors.push(e.message);
            resolve();
          });
        });
      }
    })();
    const next = await webCert(webCa, ['www.example.test', 'example.test']);
    await eventually(() => requests > 20, 'traffic before the rotation');
    await writeWebSecret(dirs.www, { cert: next.certPem, key: next.key.privatePem, ca: webCa.certPem });
    const swapped = Date.now();
    await eventually(async () => (await servedSerial(ports.edge, 'www.example.test', webCa.certPem)) === serialOf(next), 'the new certificate served', 10_000);
    const ms = Date.now() - swapped;
    const at = requests;
    await eventually(() => requests > at + 20, 'traffic after the rotation');
    stop = true;
    await load;
    console.log(`offload SNI rotation: new certificate served ${ms} ms after the ..data swap; ${requests} requests, ${failures} failed`);
    expect(errors).toEqual([]);
    expect(failures).toBe(0);
    const text = await side.metrics();
    expect(metric(text, 'tlsmesh_offload_certificate_expiry_timestamp_seconds', { listener: 'edge', server_name: 'www.example.test' })).toBe(Math.floor(next.cert.notAfter.getTime() / 1000));
  });

  it.each([
    ['a key that does not match', async () => ({ cert: (await webCert(webCa, ['www.example.test', 'example.test'])).certPem, key: (await webCert(webCa, ['x.test'])).key.privatePem, ca: webCa.certPem })],
    ['a certificate without the configured names', async () => { const c = await webCert(webCa, ['www.example.test']); return { cert: c.certPem, key: c.key.privatePem, ca: webCa.certPem }; }],
    ['an expired certificate', async () => { const c = await webCert(webCa, ['www.example.test', 'example.test'], { notBefore: new Date(Date.now() - 7200_000), notAfter: new Date(Date.now() - 3600_000) }); return { cert: c.certPem, key: c.key.privatePem, ca: webCa.certPem }; }],
    ['a certificate from another CA than its ca.crt', async () => { const c = await webCert(await ca({ name: 'rogue' }), ['www.example.test', 'example.test']); return { cert: c.certPem, key: c.key.privatePem, ca: webCa.certPem }; }],
  ])('refuses %s, keeps serving the current one, counts the error', async (_case, make) => {
    const current = await servedSerial(ports.edge, 'www.example.test', webCa.certPem);
    const errorsBefore = metric(await side.metrics(), 'tlsmesh_offload_certificate_reloads_total', { listener: 'edge', source: 'certificates[0]', result: 'error' }) ?? 0;
    await writeWebSecret(dirs.www, await make());
    await eventually(async () => metric(await side.metrics(), 'tlsmesh_offload_certificate_reloads_total', { listener: 'edge', source: 'certificates[0]', result: 'error' }) === errorsBefore + 1, 'the refusal counted');
    expect(await servedSerial(ports.edge, 'www.example.test', webCa.certPem)).toBe(current);
    await eventually(() => side.proc.stdout().includes('offload_certificate_refused'), 'the refusal logged');
  });
});

// ACME against a real RFC 8555 server: Debian's pebble, started here on
// 127.0.0.1 with its own test CA, resolving every name through
// pebble-challtestsrv to 127.0.0.1 (no AAAA), so its HTTP-01 validation
// connects only to our redirect listener on loopback. The listener obtains a
// certificate, serves it, and a renewal (pebble issues 30-second certificates,
// renewed at two thirds) replaces it without a failed request.
import { existsSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ca, generateKeyPair, identity, tempDir, writeSecret } from '../support/pki.js';
import { x509 } from '../../proxy/src/identity/peculiar.js';
import { echoApp, metric, startSidecar, type EchoApp, type SidecarHandle } from '../support/mesh.js';
import { eventually, freePorts, killAll, startProcess, type Proc } from '../support/processes.js';
import { curlResolve, opensslServed, servedSerial } from '../support/offload.js';

const TD = 'cluster.local';
const NAMES = ['shop.acme.test', 'www.shop.acme.test'];
const VALIDITY_SECONDS = 30;
const HAVE_PEBBLE = existsSync('/usr/bin/pebble') && existsSync('/usr/bin/pebble-challtestsrv');
const tmp = tempDir();
let app: EchoApp;
let side: SidecarHandle;
let pebble: Proc;
let challtestsrv: Proc;
let pebbleTlsCa: string;
let pebbleRoot: string;
let pebbleRootFile: string;
let ports: Record<'acme' | 'acmeManagement' | 'dns' | 'dnsManagement' | 'tlsAlpn' | 'edge' | 'redirect' | 'admin', number>;

function get(url: string, caPem: string): Promise<string> {
  return new Promise((resolve, reject) => {
    https
      .get(url, { ca: caPem, agent: false }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`${url}: ${res.statusCode}`))));
      })
      .on('error', reject);
  });
}

beforeAll(async () => {
  if (!HAVE_PEBBLE) return;
  const [acme, acmeManagement, dns, dnsManagement, tlsAlpn, edge, redirect, admin] = await freePorts(8);
  ports = { acme: acme!, acmeManagement: acmeManagement!, dns: dns!, dnsManagement: dnsManagement!, tlsAlpn: tlsAlpn!, edge: edge!, redirect: redirect!, admin: admin! };

  // pebble's own HTTPS certificate (IP SAN 127.0.0.1), from a CA made for this test.
  const serverCa = await ca({ name: 'pebble server CA' });
  const key = await generateKeyPair();
  const ipCert = await x509.X509CertificateGenerator.create({
    serialNumber: '01a2b3',
    subject: 'CN=127.0.0.1',
    issuer: serverCa.cert.subject,
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 86_400_000),
    publicKey: key.keys.publicKey,
    signingKey: serverCa.issuer.key.keys.privateKey,
    signingAlgorithm: serverCa.issuer.key.signingAlgorithm,
    extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'ip', value: '127.0.0.1' }])],
  });
  writeFileSync(join(tmp.dir, 'pebble-cert.pem'), ipCert.toString('pem'));
  writeFileSync(join(tmp.dir, 'pebble-key.pem'), key.privatePem);
  pebbleTlsCa = join(tmp.dir, 'pebble-server-ca.pem');
  writeFileSync(pebbleTlsCa, serverCa.certPem);
  const config = join(tmp.dir, 'pebble.json');
  writeFileSync(
    config,
    JSON.stringify({
      pebble: {
        listenAddress: `127.0.0.1:${ports.acme}`,
        managementListenAddress: `127.0.0.1:${ports.acmeManagement}`,
        certificate: join(tmp.dir, 'pebble-cert.pem'),
        privateKey: join(tmp.dir, 'pebble-key.pem'),
        // HTTP-01 validation goes to <name>:httpPort: our redirect listener.
        httpPort: ports.redirect,
        tlsPort: ports.tlsAlpn,
        ocspResponderURL: '',
        externalAccountBindingRequired: false,
        certificateValidityPeriod: VALIDITY_SECONDS,
      },
    }),
  );
  // Every A query answers 127.0.0.1 and AAAA answers nothing: validation cannot leave loopback.
  challtestsrv = startProcess('pebble-challtestsrv', ['-dns01', `127.0.0.1:${ports.dns}`, '-http01', '', '-https01', '', '-tlsalpn01', '', '-management', `127.0.0.1:${ports.dnsManagement}`, '-defaultIPv4', '127.0.0.1', '-defaultIPv6', '']);
  await eventually(() => challtestsrv.stdout().includes('Starting management server'), 'pebble-challtestsrv up');
  pebble = startProcess('pebble', ['-config', config, '-dnsserver', `127.0.0.1:${ports.dns}`], {
    cwd: tmp.dir,
    env: { PEBBLE_VA_NOSLEEP: '1', PEBBLE_VA_ALWAYS_VALID: '0', PEBBLE_AUTHZREUSE: '0' },
  });
  const caPem = serverCa.certPem;
  await eventually(async () => (await get(`https://127.0.0.1:${ports.acme}/dir`, caPem)).includes('newOrder'), 'pebble directory', 20_000);
  pebbleRoot = await get(`https://127.0.0.1:${ports.acmeManagement}/roots/0`, caPem);
  pebbleRootFile = join(tmp.dir, 'pebble-root.pem');
  writeFileSync(pebbleRootFile, pebbleRoot);

  const root = await ca({ trustDomain: TD });
  await writeSecret(join(tmp.dir, 'id'), (await identity(root, `spiffe://${TD}/ns/shop/sa/edge`)).files);
  app = await echoApp();
  side = await startSidecar(tmp.dir, 'edge', {
    trustDomain: TD,
    identity: { dir: join(tmp.dir, 'id') },
    admin: { listen: `127.0.0.1:${ports.admin}` },
    inbound: [
      {
        name: 'shop',
        listen: `127.0.0.1:${ports.edge}`,
        forward: `127.0.0.1:${app.port}`,
        protocol: 'http',
        tls: 'server',
        hsts: { maxAge: 300 },
        redirect: { listen: `127.0.0.1:${ports.redirect}` },
        acme: { directory: `https://127.0.0.1:${ports.acme}/dir`, email: 'ops@shop.acme.test', names: NAMES, storageDir: join(tmp.dir, 'acme'), caBundle: pebbleTlsCa },
      },
    ],
  });
}, 60_000);

afterAll(async () => {
  await killAll();
  await app?.close();
  tmp.cleanup();
});

const orders = async (result: 'ok' | 'error') => metric(await side.metrics(), 'tlsmesh_acme_orders_total', { listener: 'shop', result }) ?? 0;

describe.skipIf(!HAVE_PEBBLE)('ACME with pebble (HTTP-01 through the redirect listener)', () => {
  let first: string;

  it('obtains a certificate for every name and serves it', async () => {
    await eventually(async () => (await orders('ok')) >= 1, 'the first ACME order', 45_000, 200);
    for (const name of NAMES) {
      const r = await curlResolve(name, ports.edge, `/via-acme/${name}`, { cacert: pebbleRootFile });
      expect(r.stderr).toBe('');
      expect(JSON.parse(r.stdout).url).toBe(`/via-acme/${name}`);
    }
    const { cert } = await opensslServed(ports.edge, NAMES[0]);
    expect(cert?.issuer).toMatch(/Pebble Intermediate CA/);
    expect(cert?.subjectAltName).toBe(NAMES.map((n) => `DNS:${n}`).join(', '));
    first = await servedSerial(ports.edge, NAMES[0]!, pebbleRoot);
    // Pebble validated both names over HTTP-01 against our redirect listener.
    expect(metric(await side.metrics(), 'tlsmesh_offload_redirect_requests_total', { listener: 'shop', result: 'acme_challenge' })).toBeGreaterThanOrEqual(NAMES.length);
    const challengeLines = side.proc.stdout().split('\n').filter((l) => l.includes('"event":"acme_challenge_request"')).map((l) => JSON.parse(l) as { remote: string; known: boolean });
    expect(challengeLines.length).toBeGreaterThanOrEqual(NAMES.length);
    expect(new Set(challengeLines.map((l) => l.remote))).toEqual(new Set(['127.0.0.1']));
    expect(challengeLines.every((l) => l.known)).toBe(true);
    expect(await orders('error')).toBe(0);
  }, 60_000);

  it('keeps the certificate in the Secret layout under storageDir, key mode 0600', async () => {
    const dir = join(tmp.dir, 'acme', NAMES[0]!);
    expect(readlinkSync(join(dir, '..data'))).toMatch(/^\.\.\d{4}_/);
    expect(statSync(join(dir, 'tls.key')).mode & 0o777).toBe(0o600);
    expect(statSync(join(tmp.dir, 'acme', 'account.key')).mode & 0o777).toBe(0o600);
    const doc = JSON.parse((await side.get('/offload')).body);
    const acme = doc.listeners[0].acme;
    expect(acme.names).toEqual(NAMES);
    expect(acme.orders.ok).toBeGreaterThanOrEqual(1);
    expect(Date.parse(acme.nextOrderAt)).toBeGreaterThan(Date.now() - 5000);
  });

  it('renews at two thirds of the lifetime and serves the new certificate with no failed request', async () => {
    let failures = 0;
    let requests = 0;
    let stop = false;
    const errors: string[] = [];
    const load = (async () => {
      while (!stop) {
        requests += 1;
        const r = await curlResolve(NAMES[1]!, ports.edge, '/during-renewal', { cacert: pebbleRootFile });
        if (r.code !== 0 || !r.stdout.includes('/during-renewal')) {
          failures += 1;
          errors.push(r.stderr || r.stdout.slice(0, 200));
        }
        await new Promise((res) => setTimeout(res, 100));
      }
    })();
    const issuedOk = await orders('ok');
    await eventually(async () => (await servedSerial(ports.edge, NAMES[0]!, pebbleRoot)) !== first, 'the renewed certificate served', 60_000, 250);
    stop = true;
    await load;
    console.log(`ACME renewal: ${requests} requests during the renewal, ${failures} failed`);
    expect(errors).toEqual([]);
    expect(await orders('ok')).toBeGreaterThan(issuedOk);
    await eventually(() => side.proc.stdout().includes('"event":"acme_issued"'), 'the issuance logged');
    expect(metric(await side.metrics(), 'tlsmesh_offload_certificate_expiry_timestamp_seconds', { listener: 'shop', server_name: NAMES[0]! })).toBeGreaterThan(Date.now() / 1000);
  }, 90_000);
});


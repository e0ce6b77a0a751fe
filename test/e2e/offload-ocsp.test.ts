// OCSP stapling: a certificate whose Authority Information Access names a
// responder gets a stapled `good` response (built by OpenSSL's own `openssl
// ocsp`, served on 127.0.0.1); a revoked certificate is never stapled and the
// revocation is counted; a certificate without a responder is served as is.
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ca, identity, tempDir, writeSecret, type TestCa } from '../support/pki.js';
import { echoApp, metric, startSidecar, type EchoApp, type SidecarHandle } from '../support/mesh.js';
import { eventually, freePorts, killAll } from '../support/processes.js';
import { run, webCert, writeWebSecret } from '../support/offload.js';

const TD = 'cluster.local';
const tmp = tempDir();
let webCa: TestCa;
let app: EchoApp;
let side: SidecarHandle;
let responder: http.Server;
let requests = 0;
let ports: Record<'edge' | 'admin', number>;
const f = (name: string) => join(tmp.dir, name);

/** A leaf signed by `openssl x509 -req` with an OCSP URL, and its line in the responder's index. */
async function opensslLeaf(name: string, serial: string, ocspUrl: string, state: 'V' | 'R'): Promise<string> {
  await run('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', f(`${name}.key`), '-subj', `/CN=${name}`, '-out', f(`${name}.csr`)]);
  writeFileSync(f(`${name}.ext`), `subjectAltName=DNS:${name}\nauthorityInfoAccess=OCSP;URI:${ocspUrl}\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n`);
  const r = await run('openssl', ['x509', '-req', '-in', f(`${name}.csr`), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-set_serial', `0x${serial}`, '-days', '2', '-extfile', f(`${name}.ext`), '-out', f(`${name}.pem`)]);
  expect(r.code, r.stderr).toBe(0);
  const exp = new Date(Date.now() + 2 * 86_400_000).toISOString().replace(/[-:T]/g, '').slice(2, 14) + 'Z';
  const revoked = state === 'R' ? new Date(Date.now() - 3600_000).toISOString().replace(/[-:T]/g, '').slice(2, 14) + 'Z' : '';
  return `${state}\t${exp}\t${revoked}\t${serial.toUpperCase()}\tunknown\t/CN=${name}\n`;
}

beforeAll(async () => {
  const root = await ca({ trustDomain: TD });
  await writeSecret(f('id'), (await identity(root, `spiffe://${TD}/ns/default/sa/edge`)).files);
  webCa = await ca({ name: 'web CA' });
  writeFileSync(f('ca.pem'), webCa.certPem);
  writeFileSync(f('ca.key'), webCa.key.privatePem);
  // The responder: each POSTed request is answered by `openssl ocsp` from the index, on loopback only.
  responder = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (d: Buffer) => chunks.push(d));
    req.on('end', async () => {
      requests += 1;
      const n = requests;
      writeFileSync(f(`req-${n}.der`), Buffer.concat(chunks));
      const r = await run('openssl', ['ocsp', '-index', f('index.txt'), '-rsigner', f('ca.pem'), '-rkey', f('ca.key'), '-CA', f('ca.pem'), '-reqin', f(`req-${n}.der`), '-respout', f(`resp-${n}.der`), '-nmin', '10']);
      if (r.code !== 0) {
        res.writeHead(500);
        res.end(r.stderr);
        return;
      }
      res.writeHead(200, { 'content-type': 'application/ocsp-response' });
      res.end(readFileSync(f(`resp-${n}.der`)));
    });
  });
  responder.listen(0, '127.0.0.1');
  await once(responder, 'listening');
  const url = `http://127.0.0.1:${(responder.address() as AddressInfo).port}/`;
  const index = (await opensslLeaf('good.example.test', '1a2b', url, 'V')) + (await opensslLeaf('revoked.example.test', '3c4d', url, 'R'));
  writeFileSync(f('index.txt'), index);
  writeFileSync(f('index.txt.attr'), 'unique_subject = no\n');
  for (const name of ['good.example.test', 'revoked.example.test']) {
    await writeWebSecret(f(name), { cert: readFileSync(f(`${name}.pem`), 'utf8'), key: readFileSync(f(`${name}.key`), 'utf8'), ca: webCa.certPem });
  }
  const plain = await webCert(webCa, ['plain.example.test']);
  await writeWebSecret(f('plain'), { cert: plain.certPem, key: plain.key.privatePem, ca: webCa.certPem });
  app = await echoApp();
  const [edge, admin] = await freePorts(2);
  ports = { edge: edge!, admin: admin! };
  side = await startSidecar(tmp.dir, 'edge', {
    trustDomain: TD,
    identity: { dir: f('id') },
    admin: { listen: `127.0.0.1:${ports.admin}` },
    inbound: [
      {
        name: 'edge',
        listen: `127.0.0.1:${ports.edge}`,
        forward: `127.0.0.1:${app.port}`,
        protocol: 'http',
        tls: 'server',
        certificates: [{ dir: f('good.example.test') }, { dir: f('revoked.example.test') }, { dir: f('plain') }],
      },
    ],
  });
});

afterAll(async () => {
  await killAll();
  await app?.close();
  responder?.close();
  tmp.cleanup();
});

const fetches = async (result: string) => metric(await side.metrics(), 'tlsmesh_offload_ocsp_fetches_total', { listener: 'edge', result }) ?? 0;
const status = (name: string) => run('openssl', ['s_client', '-connect', `127.0.0.1:${ports.edge}`, '-servername', name, '-status', '-CAfile', f('ca.pem')], { input: '' });

describe('OCSP stapling', () => {
  it('staples a good response for a certificate that names a responder', async () => {
    await eventually(async () => (await fetches('good')) >= 1, 'the good response fetched');
    const out = (await status('good.example.test')).stdout;
    expect(out).toContain('OCSP Response Status: successful (0x0)');
    expect(out).toContain('Cert Status: good');
    expect(out).toContain('Verify return code: 0 (ok)');
  });

  it('does not staple a revoked certificate, and counts the revocation', async () => {
    await eventually(async () => (await fetches('revoked')) >= 1, 'the revoked response fetched');
    const out = (await status('revoked.example.test')).stdout;
    expect(out).toContain('OCSP response: no response sent');
    // Info lines leave the logger in batches (every 200 ms when traffic is light).
    await eventually(() => side.proc.stdout().includes('"event":"ocsp_status"'), 'the revocation logged');
  });

  it('sends no staple for a certificate without a responder, and asks no responder for it', async () => {
    const out = (await status('plain.example.test')).stdout;
    expect(out).toContain('OCSP response: no response sent');
    expect(requests).toBe((await fetches('good')) + (await fetches('revoked')));
    expect(await fetches('error')).toBe(0);
  });
});

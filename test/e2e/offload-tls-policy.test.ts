// The client-facing TLS policy of offload listeners: TLS 1.2+ and AEAD-only
// suites by default, a stricter minimum version, an explicit cipher and curve
// list; ALPN offers only http/1.1 (we do not speak h2). Every refusal is counted
// under the server name with its reason.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ca, identity, tempDir, writeSecret } from '../support/pki.js';
import { echoApp, metric, startSidecar, type EchoApp, type SidecarHandle } from '../support/mesh.js';
import { eventually, freePorts, killAll } from '../support/processes.js';
import { curlResolve, run, webCert, writeWebSecret } from '../support/offload.js';

const TD = 'cluster.local';
const NAME = 'www.example.test';
const tmp = tempDir();
let webCaFile: string;
let app: EchoApp;
let side: SidecarHandle;
let ports: Record<'defaults' | 'tls13' | 'strict' | 'admin', number>;
const listenerOf = { defaults: 'defaults', tls13: 'tls13', strict: 'strict' } as const;

beforeAll(async () => {
  const root = await ca({ trustDomain: TD });
  await writeSecret(join(tmp.dir, 'id'), (await identity(root, `spiffe://${TD}/ns/default/sa/edge`)).files);
  const webCa = await ca({ name: 'web CA' });
  webCaFile = join(tmp.dir, 'web-ca.pem');
  writeFileSync(webCaFile, webCa.certPem);
  const site = await webCert(webCa, [NAME]); // ECDSA P-256
  await writeWebSecret(join(tmp.dir, 'www'), { cert: site.certPem, key: site.key.privatePem, ca: webCa.certPem });
  app = await echoApp();
  const [d, t, s, admin] = await freePorts(4);
  ports = { defaults: d!, tls13: t!, strict: s!, admin: admin! };
  const edge = (name: string, port: number, tlsPolicy?: Record<string, unknown>) => ({
    name,
    listen: `127.0.0.1:${port}`,
    forward: `127.0.0.1:${app.port}`,
    protocol: 'http',
    tls: 'server',
    certificates: [{ dir: join(tmp.dir, 'www') }],
    ...(tlsPolicy ? { tlsPolicy } : {}),
  });
  side = await startSidecar(tmp.dir, 'edge', {
    trustDomain: TD,
    handshakeTimeoutSeconds: 2,
    identity: { dir: join(tmp.dir, 'id') },
    admin: { listen: `127.0.0.1:${ports.admin}` },
    inbound: [
      edge('defaults', ports.defaults),
      edge('tls13', ports.tls13, { minVersion: '1.3' }),
      edge('strict', ports.strict, { ciphers: ['TLS_AES_256_GCM_SHA384', 'ECDHE-ECDSA-AES256-GCM-SHA384'], curves: ['P-384'] }),
    ],
  });
});

afterAll(async () => {
  await killAll();
  await app?.close();
  tmp.cleanup();
});

interface Outcome {
  ok: boolean;
  protocol?: string;
  cipher?: string;
  alpn?: string;
}

/** openssl s_client with SNI; what was negotiated, or ok: false. */
async function openssl(port: number, args: string[]): Promise<Outcome> {
  const r = await run('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', NAME, '-CAfile', webCaFile, '-verify_return_error', ...args], { input: '' });
  const cipher = /Cipher is (\S+)/.exec(r.stdout)?.[1];
  if (!cipher || cipher === '(NONE)' || r.code !== 0) return { ok: false };
  return { ok: true, protocol: /Protocol\s*:\s*(\S+)/.exec(r.stdout)?.[1] ?? /New, (TLSv[\d.]+)/.exec(r.stdout)?.[1], cipher, alpn: /ALPN protocol: (\S+)/.exec(r.stdout)?.[1] };
}

/** A Node client pinned to old protocol versions (OpenSSL's system config would refuse them client-side). */
function oldClient(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = tls.connect({ host: '127.0.0.1', port, servername: NAME, minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0', rejectUnauthorized: false }, () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

const refused = async (listener: string, reason: string, label: string) => metric(await side.metrics(), 'tlsmesh_offload_handshakes_total', { listener, server_name: label, result: 'error', reason }) ?? 0;

/**
 * The attempt fails and is counted. OpenSSL settles the version and the TLS 1.3
 * suite before it reads the server name: those refusals are labelled (none).
 */
async function expectRefused(port: keyof typeof listenerOf, reason: string, attempt: () => Promise<Outcome | boolean>, label = NAME): Promise<void> {
  const before = await refused(listenerOf[port], reason, label);
  const out = await attempt();
  expect(typeof out === 'boolean' ? out : out.ok).toBe(false);
  await eventually(async () => (await refused(listenerOf[port], reason, label)) === before + 1, `${reason} counted on ${port}`);
}

describe('defaults: TLS 1.2+, AEAD only', () => {
  it('negotiates TLS 1.3, and TLS 1.2 with an ECDHE AEAD suite', async () => {
    expect(await openssl(ports.defaults, ['-tls1_3'])).toMatchObject({ ok: true, protocol: 'TLSv1.3' });
    expect(await openssl(ports.defaults, ['-tls1_2', '-cipher', 'ECDHE-ECDSA-AES128-GCM-SHA256'])).toMatchObject({ ok: true, protocol: 'TLSv1.2', cipher: 'ECDHE-ECDSA-AES128-GCM-SHA256' });
    expect(await openssl(ports.defaults, ['-tls1_2', '-cipher', 'ECDHE-ECDSA-CHACHA20-POLY1305'])).toMatchObject({ ok: true, cipher: 'ECDHE-ECDSA-CHACHA20-POLY1305' });
  });

  it('refuses TLS 1.0/1.1 (reason version)', async () => {
    await expectRefused('defaults', 'version', () => oldClient(ports.defaults), '(none)');
  });

  it('refuses a CBC suite (reason cipher)', async () => {
    await expectRefused('defaults', 'cipher', () => openssl(ports.defaults, ['-tls1_2', '-cipher', 'ECDHE-ECDSA-AES128-SHA']));
  });

  it('refuses a curve it does not offer (reason curve)', async () => {
    await expectRefused('defaults', 'curve', () => openssl(ports.defaults, ['-tls1_3', '-groups', 'P-521']));
  });
});

describe('ALPN: http/1.1 only, honestly', () => {
  it('answers http/1.1 to a client offering h2 and http/1.1', async () => {
    expect(await openssl(ports.defaults, ['-alpn', 'h2,http/1.1'])).toMatchObject({ ok: true, alpn: 'http/1.1' });
    const r = await curlResolve(NAME, ports.defaults, '/alpn', { cacert: webCaFile, extra: ['--http2', '-o', '/dev/null', '-w', '%{http_version}'] });
    expect(r.stdout).toBe('1.1');
  });

  it('refuses a client that offers only h2 (no_application_protocol, reason alpn)', async () => {
    await expectRefused('defaults', 'alpn', () => openssl(ports.defaults, ['-alpn', 'h2']));
  });

  it('serves a client that offers no ALPN at all', async () => {
    expect(await openssl(ports.defaults, [])).toMatchObject({ ok: true });
  });
});

describe('tlsPolicy.minVersion: 1.3', () => {
  it('serves TLS 1.3 and refuses TLS 1.2', async () => {
    expect(await openssl(ports.tls13, ['-tls1_3'])).toMatchObject({ ok: true, protocol: 'TLSv1.3' });
    await expectRefused('tls13', 'version', () => openssl(ports.tls13, ['-tls1_2']), '(none)');
  });
});

describe('tlsPolicy.ciphers and curves', () => {
  it('uses only the listed suites and curve', async () => {
    expect(await openssl(ports.strict, ['-tls1_2'])).toMatchObject({ ok: true, cipher: 'ECDHE-ECDSA-AES256-GCM-SHA384' });
    expect(await openssl(ports.strict, ['-tls1_3'])).toMatchObject({ ok: true, cipher: 'TLS_AES_256_GCM_SHA384' });
  });

  it('refuses a TLS 1.2 suite that is not listed', async () => {
    await expectRefused('strict', 'cipher', () => openssl(ports.strict, ['-tls1_2', '-cipher', 'ECDHE-ECDSA-AES128-GCM-SHA256']));
  });

  it('refuses a TLS 1.3 suite that is not listed', async () => {
    await expectRefused('strict', 'cipher', () => openssl(ports.strict, ['-tls1_3', '-ciphersuites', 'TLS_AES_128_GCM_SHA256']), '(none)');
  });

  it('refuses a curve that is not listed', async () => {
    await expectRefused('strict', 'curve', () => openssl(ports.strict, ['-tls1_3', '-groups', 'X25519:P-256']));
  });
});

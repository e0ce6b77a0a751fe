// The webhook's serving certificate rotates the way kubelet updates a mounted
// Secret (a `..data` swap): new handshakes get the new certificate without a
// restart, and a broken update (a key that does not match) is refused while the
// last good certificate keeps serving.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueLeaf, makeCa, writeSecretDir, type Ca, type Leaf } from '../../injector/src/testing/pki.js';
import { eventually, startCli, type Running } from '../../injector/src/testing/process.js';
import { X509Certificate } from 'node:crypto';

const HOST = 'tlsmesh-injector.tlsmesh-system.svc';
let tmp: string;
let ca: Ca;
let proc: Running;
let port: number;
const leaves: Leaf[] = [];

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'tlsmesh-webhook-tls-'));
  ca = makeCa(join(tmp, 'ca'));
  for (let i = 0; i < 3; i++) leaves.push(issueLeaf(ca, { sans: [`DNS:${HOST}`], usage: 'server' }));
  writeSecretDir(join(tmp, 'tls'), { 'tls.crt': leaves[0]!.certPem, 'tls.key': leaves[0]!.keyPem, 'ca.crt': ca.certPem });
  // A long poll: the reload must come from the directory events.
  writeFileSync(join(tmp, 'injector.yaml'), `listen: 127.0.0.1:0\ntls:\n  dir: ${join(tmp, 'tls')}\n  pollSeconds: 3600\nsidecar:\n  image: x\n`);
  proc = startCli(['injector', '--config', join(tmp, 'injector.yaml')]);
  port = (await proc.waitFor((e) => e.msg === 'injector listening')).port as number;
});

afterAll(async () => {
  await proc?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

/** The fingerprint of the certificate a verifying client is served now. */
function served(): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, servername: HOST, ca: ca.certPem }, () => {
      const fp = s.getPeerCertificate().fingerprint256;
      s.end();
      resolve(fp);
    });
    s.on('error', reject);
  });
}

const fingerprint = (l: Leaf) => new X509Certificate(l.certPem).fingerprint256;

async function metric(series: string): Promise<number> {
  const text = await new Promise<string>((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, servername: HOST, ca: ca.certPem }, () => s.end('GET /metrics HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n'));
    let data = '';
    s.setEncoding('utf8').on('data', (d: string) => (data += d));
    s.on('end', () => resolve(data));
    s.on('error', reject);
  });
  return Number(new RegExp(`^${series.replace(/[{}"]/g, (c) => `\\${c}`)} (\\S+)$`, 'm').exec(text)?.[1]);
}

describe('webhook serving certificate rotation', () => {
  it('serves the first certificate', async () => {
    expect(await served()).toBe(fingerprint(leaves[0]!));
  });

  it('serves the new one after a ..data swap, without a restart', async () => {
    writeSecretDir(join(tmp, 'tls'), { 'tls.crt': leaves[1]!.certPem, 'tls.key': leaves[1]!.keyPem, 'ca.crt': ca.certPem });
    await eventually(async () => ((await served()) === fingerprint(leaves[1]!) ? true : undefined), 10_000, 'new certificate served');
    expect(await metric('tlsmesh_injector_tls_reloads_total{result="ok"}')).toBe(1);
  });

  it('refuses a certificate whose key does not match, and keeps the last good one', async () => {
    writeSecretDir(join(tmp, 'tls'), { 'tls.crt': leaves[2]!.certPem, 'tls.key': leaves[0]!.keyPem, 'ca.crt': ca.certPem });
    await eventually(async () => ((await metric('tlsmesh_injector_tls_reloads_total{result="error"}')) >= 1 ? true : undefined), 10_000, 'refusal counted');
    expect(await served()).toBe(fingerprint(leaves[1]!));
    await proc.waitFor((e) => e.msg === 'serving certificate refused; the previous one stays in use');
  });

  it('SIGHUP re-reads at once', async () => {
    writeSecretDir(join(tmp, 'tls'), { 'tls.crt': leaves[2]!.certPem, 'tls.key': leaves[2]!.keyPem, 'ca.crt': ca.certPem });
    proc.child.kill('SIGHUP');
    await eventually(async () => ((await served()) === fingerprint(leaves[2]!) ? true : undefined), 10_000, 'third certificate served');
  });
});

// Helpers for the TLS offload tests: WebPKI server certificates in Secret
// dirs, and real clients (curl --resolve, openssl s_client -servername) that
// report which certificate the listener served.
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import tls from 'node:tls';
import { writeAtomic } from '../../proxy/src/ca/atomic-writer.js';
import { EKU_SERVER_AUTH, leaf, type Issued, type LeafSpec, type TestCa } from './pki.js';

/** A WebPKI server certificate: DNS SANs, serverAuth only, no SPIFFE ID. */
export function webCert(issuer: TestCa, dnsNames: string[], o: Partial<LeafSpec> = {}): Promise<Issued> {
  return leaf({ issuer, dnsNames, cn: dnsNames[0], extKeyUsage: [EKU_SERVER_AUTH], ...o });
}

/** Write an offload Secret dir (kubelet atomic steps); `ca` absent: a public-style chain with no ca.crt. */
export function writeWebSecret(dir: string, files: { cert: string; key: string; ca?: string }): Promise<string> {
  return writeAtomic(dir, {
    'tls.crt': { data: files.cert },
    'tls.key': { data: files.key, mode: 0o600 },
    ...(files.ca !== undefined ? { 'ca.crt': { data: files.ca } } : {}),
  });
}

export interface Exec {
  code: number;
  stdout: string;
  stderr: string;
}

export function run(cmd: string, args: string[], o: { input?: string; timeoutMs?: number } = {}): Promise<Exec> {
  return new Promise((resolve) => {
    const child = execFile(cmd, args, { timeout: o.timeoutMs ?? 10_000, maxBuffer: 4 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as NodeJS.ErrnoException).code === 'number' ? Number((err as NodeJS.ErrnoException).code) : -1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
    child.stdin?.end(o.input ?? '');
  });
}

/** curl https://NAME:PORT/PATH with NAME resolved to 127.0.0.1 (`--resolve`), verifying against `cacert`. */
export function curlResolve(name: string, port: number, path: string, o: { cacert?: string; insecure?: boolean; extra?: string[] } = {}): Promise<Exec> {
  return run('curl', [
    '-sS',
    '--max-time',
    '10',
    '--resolve',
    `${name}:${port}:127.0.0.1`,
    ...(o.cacert ? ['--cacert', o.cacert] : []),
    ...(o.insecure ? ['-k'] : []),
    ...(o.extra ?? []),
    `https://${name}:${port}${path}`,
  ]);
}

/** The leaf openssl s_client received (`servername` undefined: no SNI at all), or undefined when the handshake failed. */
export async function opensslServed(port: number, servername: string | undefined, extra: string[] = []): Promise<{ cert?: X509Certificate; out: Exec }> {
  const sni = servername === undefined ? ['-noservername'] : ['-servername', servername];
  const out = await run('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, ...sni, ...extra], { input: '' });
  const pem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(out.stdout)?.[0];
  return { cert: pem ? new X509Certificate(pem) : undefined, out };
}

/** One full handshake (no session reuse): the serial of the served leaf, or an error. */
export function servedSerial(port: number, servername: string, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, servername, ca, ALPNProtocols: ['http/1.1'] }, () => {
      const serial = s.getPeerCertificate().serialNumber.toLowerCase().replace(/^0+/, '');
      s.end();
      resolve(serial);
    });
    s.setTimeout(5000, () => s.destroy(new Error('timeout')));
    s.on('error', reject);
  });
}

export function serialOf(c: Issued): string {
  return c.cert.serialNumber.toLowerCase().replace(/^0+/, '');
}

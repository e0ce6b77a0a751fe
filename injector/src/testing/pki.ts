// Test certificates made with the openssl CLI (an implementation independent of
// ours): a CA, leaves signed by it, and kubelet-style Secret directories.
// For tests only; nothing in the product imports this.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync, existsSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';

export interface Ca {
  dir: string;
  certFile: string;
  keyFile: string;
  certPem: string;
}

export interface Leaf {
  certPem: string;
  keyPem: string;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

export function makeCa(dir: string, cn = 'tlsmesh test CA'): Ca {
  mkdirSync(dir, { recursive: true });
  openssl(
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', `/CN=${cn}`,
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'],
    dir,
  );
  return { dir, certFile: join(dir, 'ca.crt'), keyFile: join(dir, 'ca.key'), certPem: readFileSync(join(dir, 'ca.crt'), 'utf8') };
}

let serial = 0;

/**
 * A leaf signed by `ca`. `sans` in openssl form: `DNS:localhost`, `IP:127.0.0.1`,
 * `URI:spiffe://td/ns/x/sa/y`. `days` may be negative-free only; expiry tests use other tools.
 */
export function issueLeaf(ca: Ca, opts: { cn?: string; sans: string[]; days?: number; usage?: 'server' | 'client' | 'both' }): Leaf {
  const n = ++serial;
  const base = join(ca.dir, `leaf-${process.pid}-${n}`);
  const usage = { server: 'serverAuth', client: 'clientAuth', both: 'serverAuth,clientAuth' }[opts.usage ?? 'both'];
  writeFileSync(
    `${base}.ext`,
    [`subjectAltName=${opts.sans.join(',')}`, `extendedKeyUsage=${usage}`, 'basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature,keyEncipherment'].join('\n') + '\n',
  );
  openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${base}.key`, '-out', `${base}.csr`, '-subj', `/CN=${opts.cn ?? 'leaf'}`], ca.dir);
  openssl(
    ['x509', '-req', '-in', `${base}.csr`, '-CA', ca.certFile, '-CAkey', ca.keyFile, '-set_serial', String(Date.now() * 1000 + n), '-out', `${base}.crt`, '-days', String(opts.days ?? 1), '-extfile', `${base}.ext`],
    ca.dir,
  );
  const leaf = { certPem: readFileSync(`${base}.crt`, 'utf8'), keyPem: readFileSync(`${base}.key`, 'utf8') };
  for (const ext of ['ext', 'csr', 'crt', 'key']) rmSync(`${base}.${ext}`, { force: true });
  return leaf;
}

let generation = 0;

/**
 * Write tls.crt, tls.key, ca.crt into `dir` the way kubelet's atomic writer
 * does: a new timestamped folder, `..data_tmp` pointed at it, renamed over
 * `..data`, the old folder removed. The first call creates the file symlinks.
 */
export function writeSecretDir(dir: string, files: { 'tls.crt': string; 'tls.key': string; 'ca.crt': string }): void {
  mkdirSync(dir, { recursive: true });
  const stamp = `..${new Date().toISOString().replace(/[-:]/g, '_').replace('T', '_').replace('Z', '')}.${process.pid}${++generation}`;
  mkdirSync(join(dir, stamp));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, stamp, name), text, { mode: 0o644 });
  const data = join(dir, '..data');
  const old = existsSync(data) ? readlinkSync(data) : undefined;
  symlinkSync(stamp, join(dir, '..data_tmp'));
  renameSync(join(dir, '..data_tmp'), data);
  for (const name of Object.keys(files)) {
    if (!existsSync(join(dir, name))) symlinkSync(join('..data', name), join(dir, name));
  }
  if (old) rmSync(join(dir, old), { recursive: true, force: true });
}

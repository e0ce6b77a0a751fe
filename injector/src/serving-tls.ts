// The webhook's serving certificate: a cert-manager Secret directory (tls.crt,
// tls.key; ca.crt unused), mounted by kubelet with its `..data` symlink swaps.
// Read as one consistent snapshot, validated before use; on any failure the
// last good certificate keeps serving and the failure is reported.
//
// This is an ordinary DNS-SAN serving certificate, not an SVID, so the proxy's
// SVID checks do not apply. TODO(identity): swap the watch loop for the shared
// identity/watcher.ts once it lands; readServingDir stays (no SVID rules here).
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { readFile, realpath } from 'node:fs/promises';
import { join } from 'node:path';
import { createSecureContext } from 'node:tls';
import { CredentialError } from '../../proxy/src/errors.js';

export interface ServingCredentials {
  cert: Buffer;
  key: Buffer;
  notAfter: Date;
  /** SHA-256 fingerprint of the leaf, for logs. */
  fingerprint: string;
}

export async function readServingDir(dir: string): Promise<ServingCredentials> {
  // Through ..data when present: both files come from the same timestamped folder.
  let base = dir;
  try {
    base = await realpath(join(dir, '..data'));
  } catch {
    // plain files
  }
  const read = async (name: string) => {
    try {
      return await readFile(join(base, name));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new CredentialError(`serving certificate: cannot read ${join(dir, name)}: ${code === 'ENOENT' ? 'no such file' : String(code ?? err)}`, { cause: err });
    }
  };
  const [cert, key] = await Promise.all([read('tls.crt'), read('tls.key')]);
  return validate(cert, key, dir);
}

export function validate(cert: Buffer, key: Buffer, dir: string): ServingCredentials {
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(cert);
  } catch (err) {
    throw new CredentialError(`serving certificate: ${dir}/tls.crt: not a PEM certificate`, { cause: err });
  }
  try {
    if (!leaf.checkPrivateKey(createPrivateKey(key))) throw new Error('mismatch');
    createSecureContext({ cert, key });
  } catch (err) {
    throw new CredentialError(`serving certificate: ${dir}/tls.key: ${(err as Error).message === 'mismatch' ? 'does not match tls.crt' : 'not a usable private key'}`, { cause: err });
  }
  return { cert, key, notAfter: new Date(leaf.validTo), fingerprint: leaf.fingerprint256 };
}

export interface TlsReloaderOptions {
  dir: string;
  pollSeconds: number;
  current: ServingCredentials;
  onReload: (creds: ServingCredentials) => void;
  onError: (err: unknown) => void;
}

/** Directory events as hints (debounced), a poll as backstop, bytes compared before anything is swapped. */
export class TlsReloader {
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private current: ServingCredentials;

  constructor(private readonly opts: TlsReloaderOptions) {
    this.current = opts.current;
  }

  start(): void {
    try {
      this.watcher = watch(this.opts.dir, () => this.hint());
      this.watcher.on('error', () => undefined);
    } catch {
      // the poll alone will do
    }
    if (this.opts.pollSeconds > 0) {
      this.timer = setInterval(() => void this.check(), this.opts.pollSeconds * 1000);
      this.timer.unref();
    }
  }

  stop(): void {
    this.watcher?.close();
    clearInterval(this.timer);
    clearTimeout(this.debounce);
  }

  private hint(): void {
    clearTimeout(this.debounce);
    this.debounce = setTimeout(() => void this.check(), 100);
    this.debounce.unref();
  }

  /** Re-read now (SIGHUP, tests); resolves when done. A request during a read runs once more after it. */
  check(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        await this.load();
      } while (this.again);
    })().finally(() => (this.running = undefined));
    return this.running;
  }

  private async load(): Promise<void> {
    let next: ServingCredentials;
    try {
      next = await readServingDir(this.opts.dir);
    } catch (err) {
      this.opts.onError(err);
      return;
    }
    if (next.cert.equals(this.current.cert) && next.key.equals(this.current.key)) return;
    this.current = next;
    this.opts.onReload(next);
  }
}

// The webhook's serving certificate: a cert-manager Secret directory (tls.crt,
// tls.key; ca.crt unused), mounted by kubelet with its `..data` symlink swaps.
// Read as one consistent snapshot, validated before use; on any failure the
// last good certificate keeps serving and the failure is reported.
//
// This is an ordinary DNS-SAN serving certificate, not an SVID, so the proxy's
// SVID checks do not apply; the directory reading and watching are the proxy's
// own (identity/secret-dir.ts, identity/watcher.ts).
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { join } from 'node:path';
import { createSecureContext } from 'node:tls';
import { CredentialError } from '../../proxy/src/errors.js';
import { Coalescer } from '../../proxy/src/identity/coalesce.js';
import { readSecretDir } from '../../proxy/src/identity/secret-dir.js';
import { watchSources, type Watch } from '../../proxy/src/identity/watcher.js';
import type { Logger } from '../../proxy/src/log.js';

export interface ServingCredentials {
  cert: Buffer;
  key: Buffer;
  notAfter: Date;
  /** SHA-256 fingerprint of the leaf, for logs. */
  fingerprint: string;
}

const FILES = ['tls.crt', 'tls.key'] as const;

export async function readServingDir(dir: string): Promise<ServingCredentials> {
  // One consistent snapshot: both files from the same `..data` generation.
  const snap = await readSecretDir(dir, FILES);
  if (snap.kind === 'absent') throw new CredentialError(`serving certificate: ${snap.why}`);
  const [missing] = snap.missing;
  if (missing) throw new CredentialError(`serving certificate: cannot read ${join(dir, missing)}: no such file`);
  return validate(snap.files.get('tls.crt')!, snap.files.get('tls.key')!, dir);
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
  log: Logger;
}

/** Directory events as hints (debounced), a poll as backstop, bytes compared before anything is swapped. */
export class TlsReloader {
  private watch: Watch | undefined;
  private readonly checks = new Coalescer<void>();
  private current: ServingCredentials;

  constructor(private readonly opts: TlsReloaderOptions) {
    this.current = opts.current;
  }

  start(): void {
    this.watch = watchSources({ dirs: [this.opts.dir], files: [], onHint: () => void this.check(), pollMs: this.opts.pollSeconds * 1000, log: this.opts.log });
  }

  async stop(): Promise<void> {
    await this.watch?.close();
  }

  /** Re-read now (SIGHUP, tests); resolves when done. A request during a read runs once more after it. */
  check(): Promise<void> {
    return this.checks.run(() => this.load());
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

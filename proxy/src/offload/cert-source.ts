// One offload certificate from one cert-manager Secret directory: read it as a
// consistent snapshot (identity/secret-dir.ts), validate by WebPKI rules, and
// only then publish; a bad or half-written update keeps the last good
// certificate serving and is counted (ghostunnel certloader, like our
// identity CredentialStore).
import { CredentialError, oneLine } from '../errors.js';
import type { Logger } from '../log.js';
import { Coalescer } from '../identity/coalesce.js';
import { readSecretDir } from '../identity/secret-dir.js';
import { fingerprintOf, validateServerCertificate, type ServerCertificate } from './webpki.js';

export type SourceResult = 'ok' | 'error' | 'unchanged' | 'absent';

export interface CertSourceStatus {
  dir: string;
  reloads: number;
  errors: number;
  lastSuccess?: string;
  lastError?: { message: string; at: string };
}

export interface CertSourceOptions {
  dir: string;
  /** Configured names; undefined: the certificate's DNS SANs. */
  names?: readonly string[];
  /** What this source is called in logs and metrics (the config field). */
  label: string;
  listener: string;
  skewMs: number;
  clock: () => number;
  log: Logger;
  onReload?: (result: 'ok' | 'error') => void;
}

const FILES = ['tls.crt', 'tls.key', 'ca.crt'] as const;

export class CertSource {
  private cert: ServerCertificate | undefined;
  private lastAttempt: string | undefined;
  private timeBound = false;
  private readonly reloads = new Coalescer<SourceResult>();
  readonly status: CertSourceStatus;

  constructor(private readonly o: CertSourceOptions) {
    this.status = { dir: o.dir, reloads: 0, errors: 0 };
  }

  get current(): ServerCertificate | undefined {
    return this.cert;
  }

  get label(): string {
    return this.o.label;
  }

  /** Read again; concurrent calls coalesce into at most one more run. */
  reload(): Promise<SourceResult> {
    return this.reloads.run(() => this.reloadOnce());
  }

  private async reloadOnce(): Promise<SourceResult> {
    const snap = await readSecretDir(this.o.dir, FILES);
    if (snap.kind === 'absent') {
      if (this.lastAttempt !== 'absent') {
        this.o.log.warn({ event: 'offload_certificate_missing', listener: this.o.listener, source: this.o.label, dir: this.o.dir, why: snap.why, keeping: this.cert?.leaf.serialNumber ?? null }, 'offload certificate directory missing or empty');
      }
      this.lastAttempt = 'absent';
      return 'absent';
    }
    const input = { cert: snap.files.get('tls.crt')!, key: snap.files.get('tls.key')!, ca: snap.files.get('ca.crt') };
    const fingerprint = fingerprintOf(input);
    if (fingerprint === this.lastAttempt && !this.timeBound) return 'unchanged';
    this.lastAttempt = fingerprint;
    this.timeBound = false;
    const at = new Date(this.o.clock()).toISOString();
    try {
      if (!input.cert || !input.key) throw new CredentialError(`${this.o.dir}: missing ${snap.missing.filter((f) => f !== 'ca.crt').join(', ')}`);
      const next = validateServerCertificate(input, { now: this.o.clock(), skewMs: this.o.skewMs, names: this.o.names });
      const prev = this.cert;
      this.cert = next;
      Object.assign(this.status, { reloads: this.status.reloads + 1, lastSuccess: at });
      this.o.log.info(
        { event: 'offload_certificate_loaded', listener: this.o.listener, source: this.o.label, version: snap.version, serial: next.leaf.serialNumber, names: next.names, notAfter: new Date(next.leaf.notAfter).toISOString(), replaced: prev?.leaf.serialNumber ?? null },
        'offload certificate loaded',
      );
      this.o.onReload?.('ok');
      return 'ok';
    } catch (err) {
      const e = err instanceof CredentialError ? err : new CredentialError(oneLine(err), { cause: err });
      // A certificate refused only because it is not valid yet is worth reading again later.
      this.timeBound = /not yet valid/.test(e.message);
      this.status.errors += 1;
      this.status.lastError = { message: e.message, at };
      this.o.log.error(
        { event: 'offload_certificate_refused', listener: this.o.listener, source: this.o.label, dir: this.o.dir, error: e.message, keeping: this.cert?.leaf.serialNumber ?? null },
        this.cert ? 'new offload certificate refused: keeping the current one' : 'offload certificate refused',
      );
      this.o.onReload?.('error');
      return 'error';
    }
  }
}

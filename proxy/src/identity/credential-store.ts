// Load -> validate -> publish an immutable Credentials generation; on any
// failure keep the last good one (ghostunnel certloader, linkerd creds store).
// One writer (this store); listeners only read `current` or subscribe.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CredentialError, oneLine } from '../errors.js';
import type { Logger } from '../log.js';
import { anchorInfoOf, fingerprintOf, parseBundle, validateCandidate, type Credentials } from './credentials.js';
import { Coalescer } from './coalesce.js';
import { readSecretDir } from './secret-dir.js';

export type ReloadResult = 'ok' | 'error' | 'unchanged' | 'absent';

export interface SourceStatus {
  path: string;
  reloads: number;
  errors: number;
  lastSuccess?: string;
  lastError?: { message: string; at: string };
  fingerprint?: string;
  version?: string;
}

export interface CredentialStoreOptions {
  dir: string;
  /** Default: `<dir>/ca.crt`. */
  trustBundle?: string;
  trustDomain: string;
  skewMs: number;
  clock?: () => number;
  log: Logger;
  /** Called once per attempted change: result ok or error. */
  onReload?: (result: 'ok' | 'error', err?: CredentialError) => void;
}

type Listener = (next: Credentials, prev: Credentials | undefined) => void;

const FILES = ['tls.crt', 'tls.key', 'ca.crt'] as const;

export class CredentialStore {
  private creds: Credentials | undefined;
  private generation = 0;
  private lastAttempt: string | undefined;
  private lastAttemptTimeBound = false;
  private readonly reloads = new Coalescer<ReloadResult>();
  private readonly listeners = new Set<Listener>();
  private readonly clock: () => number;
  readonly identityStatus: SourceStatus;
  readonly bundleStatus: SourceStatus;
  absentReason: string | undefined = 'not loaded yet';

  constructor(private readonly o: CredentialStoreOptions) {
    this.clock = o.clock ?? Date.now;
    this.identityStatus = { path: o.dir, reloads: 0, errors: 0 };
    this.bundleStatus = { path: o.trustBundle ?? join(o.dir, 'ca.crt'), reloads: 0, errors: 0 };
  }

  get current(): Credentials | undefined {
    return this.creds;
  }

  subscribe(fn: Listener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Read everything again; concurrent calls coalesce into at most one more run. */
  reload(trigger: string): Promise<ReloadResult> {
    return this.reloads.run(() => this.reloadOnce(trigger));
  }

  private async reloadOnce(trigger: string): Promise<ReloadResult> {
    const snap = await readSecretDir(this.o.dir, FILES);
    let bundle: Buffer | undefined;
    let bundleError: string | undefined;
    if (this.o.trustBundle) {
      try {
        bundle = await readFile(this.o.trustBundle);
      } catch (err) {
        bundleError = `${this.o.trustBundle}: ${(err as NodeJS.ErrnoException).code ?? oneLine(err)}`;
      }
    } else if (snap.kind === 'snapshot') {
      bundle = snap.files.get('ca.crt');
    }
    if (snap.kind === 'absent') {
      this.absentReason = snap.why;
      if (this.creds && this.lastAttempt !== 'absent') {
        this.o.log.warn({ event: 'identity_source_missing', dir: this.o.dir, why: snap.why }, 'identity directory missing or empty: keeping the current identity');
      }
      this.lastAttempt = 'absent';
      return 'absent';
    }
    const cert = snap.files.get('tls.crt');
    const key = snap.files.get('tls.key');
    const fingerprint = fingerprintOf({ cert, key, bundle });
    const retry = fingerprint === this.lastAttempt;
    // The same bytes as last time: nothing to do, unless they failed for a
    // reason time can cure (not yet valid), which is tried again quietly.
    if (retry && !this.lastAttemptTimeBound) return 'unchanged';
    this.lastAttempt = fingerprint;
    this.lastAttemptTimeBound = false;
    const now = this.clock();
    try {
      if (!cert || !key) throw new CredentialError(`${this.o.dir}: missing ${snap.missing.join(', ')}`);
      if (!bundle) throw new CredentialError(bundleError ?? `${this.bundleStatus.path}: missing`);
      const next = validateCandidate(
        { cert, key, bundle },
        { trustDomain: this.o.trustDomain, now, skewMs: this.o.skewMs, generation: this.generation + 1, bundleName: this.o.trustBundle ? 'the trust bundle' : 'ca.crt' },
      );
      this.publish(next, snap.version, trigger);
      return 'ok';
    } catch (err) {
      const e = err instanceof CredentialError ? err : new CredentialError(oneLine(err), { cause: err });
      this.lastAttemptTimeBound = /not yet valid/.test(e.message);
      if (retry) return 'unchanged';
      // A new trust bundle on its own is still worth taking (CA rotation), even
      // when the identity beside it is refused or unchanged.
      if (this.o.trustBundle && bundle && this.creds && bundle.toString('utf8') !== this.creds.bundlePem && this.tryBundleOnly(bundle, trigger)) {
        return 'ok';
      }
      this.fail(e, trigger);
      return 'error';
    }
  }

  private tryBundleOnly(bundle: Buffer, trigger: string): boolean {
    const prev = this.creds!;
    let anchors;
    try {
      anchors = parseBundle(bundle, 'the trust bundle');
    } catch (err) {
      this.fail(err as CredentialError, trigger);
      return false;
    }
    // Subscribers warn (and count) when our own identity does not chain to it.
    const next = validateWithAnchors(prev, bundle, anchors, this.generation + 1, this.clock());
    this.publish(next, 'bundle', trigger);
    return true;
  }

  private publish(next: Credentials, version: string, trigger: string): void {
    const prev = this.creds;
    this.generation = next.generation;
    this.creds = next;
    this.absentReason = undefined;
    const at = new Date(this.clock()).toISOString();
    if (!prev || prev.certPem !== next.certPem || prev.keyPem !== next.keyPem) {
      Object.assign(this.identityStatus, { reloads: this.identityStatus.reloads + 1, lastSuccess: at, fingerprint: next.fingerprint, version });
    }
    if (!prev || prev.bundlePem !== next.bundlePem) {
      Object.assign(this.bundleStatus, { reloads: this.bundleStatus.reloads + 1, lastSuccess: at, fingerprint: fingerprintOf({ bundle: Buffer.from(next.bundlePem) }) });
    }
    this.o.log.info(
      { event: 'identity_loaded', trigger, generation: next.generation, spiffeId: next.spiffeId.toString(), serial: next.leaf.serialNumber, notAfter: new Date(next.leaf.notAfter).toISOString(), trustAnchors: next.anchors.length },
      'identity loaded',
    );
    this.o.onReload?.('ok');
    for (const fn of this.listeners) fn(next, prev);
  }

  private fail(err: CredentialError, trigger: string): void {
    const at = new Date(this.clock()).toISOString();
    const status = /trust bundle|ca\.crt/.test(err.message) && !/tls\.crt|tls\.key/.test(err.message) ? this.bundleStatus : this.identityStatus;
    status.errors += 1;
    status.lastError = { message: err.message, at };
    this.o.log.error(
      { event: 'identity_refused', trigger, error: err.message, keeping: this.creds ? this.creds.leaf.serialNumber : null },
      this.creds ? 'new identity refused: keeping the current one' : 'identity refused: not ready',
    );
    this.o.onReload?.('error', err);
  }
}

function validateWithAnchors(prev: Credentials, bundle: Buffer, anchors: Credentials['anchors'], generation: number, now: number): Credentials {
  // Same identity, new anchors: rebuild the frozen generation around them.
  return Object.freeze({
    ...prev,
    generation,
    bundlePem: bundle.toString('utf8'),
    anchors: Object.freeze([...anchors]),
    anchorInfo: Object.freeze(anchors.map(anchorInfoOf)),
    fingerprint: fingerprintOf({ cert: Buffer.from(prev.certPem), key: Buffer.from(prev.keyPem), bundle }),
    loadedAt: now,
  });
}


// ACME (RFC 8555) as a certificate source: obtain a certificate for the
// configured names with HTTP-01 (answered by the listener's redirect listener),
// write it in the cert-manager Secret layout under storageDir, and let the
// ordinary certificate source load it, so a renewal is the same reload as a
// cert-manager rotation. Renew at two thirds of the lifetime (cert-manager's
// default); on failure retry with backoff while the current certificate serves.
// The protocol itself is acme-client's.
import { readFileSync } from 'node:fs';
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import https from 'node:https';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import type { AcmeConfig } from '../config/offload.js';
import type { DeepReadonly } from '../config/load.js';
import { ConfigError, oneLine } from '../errors.js';
import { renewalTime } from '../identity/renewal.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { writeAtomic } from '../ca/atomic-writer.js';
import { certificateCovers } from './names.js';
import type { Http01Challenges } from './redirect.js';
import type { SourceResult } from './cert-source.js';
import type { ServerCertificate } from './webpki.js';

// acme-client (with axios) costs ~0.4 s and ~25 MiB to load: only listeners that
// use ACME pay for it, on first use.
type AcmeClient = typeof import('acme-client');
let loaded: AcmeClient | undefined;
function acmeLib(): AcmeClient {
  loaded ??= createRequire(import.meta.url)('acme-client') as AcmeClient;
  return loaded;
}

/** Timers longer than this are re-armed (setTimeout's limit is ~24.8 days). */
const MAX_TIMER_MS = 6 * 3600_000;
const RETRY_MIN_MS = 10_000;
const RETRY_MAX_MS = 3600_000;

export interface AcmeManagerOptions {
  cfg: DeepReadonly<AcmeConfig>;
  field: string;
  listener: string;
  challenges: Http01Challenges;
  /** The ACME certificate currently loaded by its certificate source. */
  current: () => ServerCertificate | undefined;
  /** Load the certificate dir again (after a new certificate was written). */
  reload: () => Promise<SourceResult>;
  metrics: Metrics;
  log: Logger;
  clock: () => number;
}

/** Where an ACME listener keeps its certificate: the Secret layout the loader reads. */
export function acmeCertificateDir(cfg: DeepReadonly<AcmeConfig>): string {
  return join(cfg.storageDir, cfg.names[0]!);
}

// acme-client talks through one shared axios instance; a private ACME server's
// CA is applied per origin, so several listeners can use different servers.
const agentsByOrigin = new Map<string, https.Agent>();
let interceptorInstalled = false;
function trustForDirectory(directory: string, caPem: string): void {
  agentsByOrigin.set(new URL(directory).origin, new https.Agent({ ca: caPem, keepAlive: true }));
  if (interceptorInstalled) return;
  interceptorInstalled = true;
  acmeLib().axios.interceptors.request.use((config) => {
    const agent = config.url ? agentsByOrigin.get(new URL(config.url).origin) : undefined;
    if (agent) config.httpsAgent = agent;
    return config;
  });
}

export class AcmeManager {
  private timer: NodeJS.Timeout | undefined;
  private failures = 0;
  private stopped = false;
  private ordering: Promise<void> | undefined;
  private nextAt: number | undefined;
  private lastOrder: { result: 'ok' | 'error'; at: number; error?: string } | undefined;
  private orders = { ok: 0, error: 0 };
  readonly certDir: string;

  constructor(private readonly o: AcmeManagerOptions) {
    this.certDir = acmeCertificateDir(o.cfg);
    if (o.cfg.caBundle) {
      let pem: string;
      try {
        pem = readFileSync(o.cfg.caBundle, 'utf8');
        if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new Error('no PEM certificate');
      } catch (err) {
        throw new ConfigError(`${o.field}.acme.caBundle`, `cannot use ${o.cfg.caBundle}: ${(err as NodeJS.ErrnoException).code ?? oneLine(err)}`);
      }
      trustForDirectory(o.cfg.directory, pem);
    }
  }

  /** When the next order is due: now without a usable certificate, else at 2/3 of its lifetime. */
  dueAt(): number {
    const cert = this.o.current();
    if (!cert || !this.o.cfg.names.every((n) => certificateCovers(cert.leaf.dnsNames, n))) return this.o.clock();
    return renewalTime(cert.leaf.notBefore, cert.leaf.notAfter, 2 / 3);
  }

  start(): void {
    this.schedule(this.dueAt());
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  status(): unknown {
    const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());
    return {
      directory: this.o.cfg.directory,
      names: this.o.cfg.names,
      certificateDir: this.certDir,
      nextOrderAt: iso(this.nextAt),
      ordering: this.ordering !== undefined,
      orders: { ...this.orders },
      lastOrder: this.lastOrder ? { result: this.lastOrder.result, at: iso(this.lastOrder.at), error: this.lastOrder.error } : null,
      consecutiveFailures: this.failures,
    };
  }

  /** Order now (tests, SIGHUP-style operator action); resolves when the attempt is over. */
  orderNow(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    return this.run();
  }

  private schedule(at: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.nextAt = at;
    this.o.metrics.acmeRenewal.labels(this.o.listener).set(Math.floor(at / 1000));
    const wait = Math.max(0, Math.min(at - this.o.clock(), MAX_TIMER_MS));
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.o.clock() < at) this.schedule(at);
      else void this.run();
    }, wait);
    this.timer.unref();
  }

  private run(): Promise<void> {
    if (!this.ordering) {
      this.ordering = this.order().finally(() => {
        this.ordering = undefined;
      });
    }
    return this.ordering;
  }

  private async order(): Promise<void> {
    const { cfg, listener, log } = this.o;
    const started = this.o.clock();
    log.info({ event: 'acme_order', listener, directory: cfg.directory, names: cfg.names, renewing: this.o.current()?.leaf.serialNumber ?? null }, 'ordering a certificate with ACME');
    try {
      const { certPem, keyPem } = await this.obtain();
      await writeAtomic(this.certDir, { 'tls.crt': { data: certPem }, 'tls.key': { data: keyPem, mode: 0o600 } });
      const result = await this.o.reload();
      if (result !== 'ok' && result !== 'unchanged') throw new Error(`the issued certificate was not accepted (${result}); see offload_certificate_refused`);
      this.failures = 0;
      this.orders.ok += 1;
      this.lastOrder = { result: 'ok', at: this.o.clock() };
      this.o.metrics.acmeOrders.labels(listener, 'ok').inc();
      const cert = this.o.current();
      log.info(
        { event: 'acme_issued', listener, names: cfg.names, serial: cert?.leaf.serialNumber, notAfter: cert ? new Date(cert.leaf.notAfter).toISOString() : undefined, durationMs: this.o.clock() - started },
        'ACME certificate issued',
      );
      this.schedule(this.dueAt());
    } catch (err) {
      this.failures += 1;
      this.orders.error += 1;
      this.lastOrder = { result: 'error', at: this.o.clock(), error: oneLine(err) };
      this.o.metrics.acmeOrders.labels(listener, 'error').inc();
      const retryMs = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** (this.failures - 1));
      log.error({ event: 'acme_order_failed', listener, directory: cfg.directory, error: oneLine(err), failures: this.failures, retryInSeconds: retryMs / 1000, keeping: this.o.current()?.leaf.serialNumber ?? null }, 'ACME order failed');
      this.schedule(this.o.clock() + retryMs);
    }
  }

  private async obtain(): Promise<{ certPem: string; keyPem: string }> {
    const cfg = this.o.cfg;
    const { Client } = acmeLib();
    const client = new Client({
      directoryUrl: cfg.directory,
      accountKey: await this.accountKey(),
      backoffAttempts: 10,
      backoffMin: 1000,
      backoffMax: 10_000,
    });
    const key =
      cfg.keyType === 'rsa-2048' || cfg.keyType === 'rsa-3072'
        ? await acmeLib().crypto.createPrivateRsaKey(cfg.keyType === 'rsa-2048' ? 2048 : 3072)
        : await acmeLib().crypto.createPrivateEcdsaKey(cfg.keyType === 'ecdsa-p384' ? 'P-384' : 'P-256');
    const [, csr] = await acmeLib().crypto.createCsr({ commonName: cfg.names[0], altNames: [...cfg.names] }, key);
    const certPem = await client.auto({
      csr,
      email: cfg.email,
      termsOfServiceAgreed: cfg.termsOfServiceAgreed,
      challengePriority: ['http-01'],
      // The self-check would resolve the names from inside the pod; the CA's validation is the one that counts.
      skipChallengeVerification: true,
      challengeCreateFn: async (_authz, challenge, keyAuthorization) => {
        if (challenge.type !== 'http-01') throw new Error(`challenge type ${challenge.type} is not supported (HTTP-01 only)`);
        this.o.challenges.set(challenge.token, keyAuthorization);
      },
      challengeRemoveFn: async (_authz, challenge) => {
        this.o.challenges.delete(challenge.token);
      },
    });
    return { certPem, keyPem: key.toString('utf8') };
  }

  /** The account key under storageDir (created once, mode 0600). */
  private async accountKey(): Promise<Buffer> {
    const file = join(this.o.cfg.storageDir, 'account.key');
    try {
      return await readFile(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    await mkdir(this.o.cfg.storageDir, { recursive: true, mode: 0o700 });
    const key = await acmeLib().crypto.createPrivateEcdsaKey('P-256');
    const tmp = `${file}.tmp`;
    await writeFile(tmp, key, { mode: 0o600 });
    await chmod(tmp, 0o600);
    await rename(tmp, file);
    this.o.log.info({ event: 'acme_account_key_created', listener: this.o.listener, file }, 'ACME account key created');
    return key;
  }
}

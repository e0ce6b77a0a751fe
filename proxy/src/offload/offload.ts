// Everything an inbound listener needs for TLS offload, behind a few calls:
// tls.Server options (SNI callback, policy), the default certificate, per-name
// handshake accounting, the HSTS response class, and the lifecycle of the
// certificate sources, their watcher, the redirect listener and ACME.
import type { ServerResponse } from 'node:http';
import tls, { type SecureContext, type TLSSocket } from 'node:tls';
import type { InboundConfig } from '../config/index.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { watchSources, type Watch } from '../identity/watcher.js';
import { AcmeManager, acmeCertificateDir } from './acme.js';
import { CertSource } from './cert-source.js';
import { NoCertificateError, offloadHandshakeReason, UnknownServerNameError } from './handshake-reason.js';
import { OcspStapler } from './ocsp.js';
import { hstsResponseClass, hstsValue } from './hsts.js';
import { Http01Challenges, RedirectListener } from './redirect.js';
import { buildSniTable, lookupServerName, NO_SNI, UNKNOWN_NAME, type SniEntry, type SniTable } from './sni-table.js';
import { policyOptions, type PolicyOptions } from './tls-policy.js';
import type { ServerCertificate } from './webpki.js';

export interface OffloadDeps {
  /** `inbound[i]`, for errors naming config fields. */
  field: string;
  listener: string;
  skewMs: number;
  clock: () => number;
  metrics: Metrics;
  log: Logger;
  /** Backstop poll of the certificate dirs (events are hints). */
  pollMs?: number;
}

/** Does this listener use any offload field? */
export function usesOffload(cfg: InboundConfig): boolean {
  return cfg.certificates !== undefined || cfg.acme !== undefined || cfg.tlsPolicy !== undefined || cfg.hsts !== undefined || cfg.redirect !== undefined;
}

export class Offload {
  /** Certificates of its own (certificates or acme), rather than the workload identity. */
  readonly ownsCertificates: boolean;
  readonly policy: PolicyOptions;
  readonly responseClass: typeof ServerResponse | undefined;
  /** The same for the h1 engine: header lines added to every answer, replacing the app's. */
  readonly responseHeaders: { drop: ReadonlySet<string>; add: string } | undefined;
  readonly redirect: RedirectListener | undefined;
  readonly acme: AcmeManager | undefined;
  private readonly sources: CertSource[];
  private readonly contexts = new WeakMap<ServerCertificate, SecureContext>();
  private table: SniTable<SecureContext>;
  private server: tls.Server | undefined;
  private watch: Watch | undefined;
  private fallback: ServerCertificate | undefined;
  private readonly ocsp: OcspStapler | undefined;
  /** Bound `ok` children per server-name label (the hot path of every handshake). */
  private readonly okChildren = new Map<string, { inc(): void }>();

  constructor(
    private readonly cfg: InboundConfig,
    private readonly d: OffloadDeps,
  ) {
    this.policy = policyOptions(cfg.tlsPolicy);
    const hsts = cfg.hsts ? hstsValue(cfg.hsts) : undefined;
    this.responseClass = hsts ? hstsResponseClass(hsts) : undefined;
    this.responseHeaders = hsts ? { drop: new Set(['strict-transport-security']), add: `strict-transport-security: ${hsts}\r\n` } : undefined;
    const challenges = cfg.acme ? new Http01Challenges() : undefined;
    const source = (dir: string, label: string, names: readonly string[] | undefined) =>
      new CertSource({ dir, names, label, listener: d.listener, skewMs: d.skewMs, clock: d.clock, log: d.log, onReload: (r) => this.onSourceReload(label, r) });
    this.sources = (cfg.certificates ?? []).map((c, i) => source(c.dir, `certificates[${i}]`, c.names));
    if (cfg.acme && challenges) {
      const acmeSource = source(acmeCertificateDir(cfg.acme), 'acme', cfg.acme.names);
      this.sources.push(acmeSource);
      this.acme = new AcmeManager({
        cfg: cfg.acme,
        field: d.field,
        listener: d.listener,
        challenges,
        current: () => acmeSource.current,
        reload: () => acmeSource.reload(),
        metrics: d.metrics,
        log: d.log,
        clock: d.clock,
      });
    }
    this.ownsCertificates = this.sources.length > 0;
    if (this.ownsCertificates && (cfg.tlsPolicy?.ocspStapling ?? true)) this.ocsp = new OcspStapler({ listener: d.listener, clock: d.clock, metrics: d.metrics, log: d.log });
    this.redirect = cfg.redirect ? new RedirectListener({ cfg: cfg.redirect, field: d.field, listener: d.listener, challenges, metrics: d.metrics, log: d.log }) : undefined;
    this.table = buildSniTable<SecureContext>([]).table;
    d.metrics.offloadListener(d.listener, { sources: this.sources.map((s) => s.label), acme: this.acme !== undefined, redirect: this.redirect !== undefined });
  }

  /** Options for the listener's tls.Server: the policy, and the SNI callback when it serves its own certificates. */
  serverOptions(): tls.TlsOptions {
    if (!this.ownsCertificates) return { ...this.policy };
    return { ...this.policy, SNICallback: (servername, cb) => this.selectContext(servername, cb) };
  }

  /** The listener hands us its tls.Server; the default certificate is set on it now and on every change. */
  attach(server: tls.Server): void {
    this.server = server;
    const ocsp = this.ocsp;
    if (ocsp) server.on('OCSPRequest', (cert: Buffer, _issuer: Buffer, cb: (err: Error | null, resp?: Buffer) => void) => ocsp.staple(cert, cb));
    this.applyFallback();
  }

  /** Load the certificates, then watch them; open the redirect listener; start ACME. */
  async start(): Promise<void> {
    await this.reloadAll();
    if (this.sources.length) {
      this.watch = watchSources({
        dirs: this.sources.map((s) => s.status.dir),
        files: [],
        onHint: () => void this.reloadAll(),
        pollMs: this.d.pollMs ?? 5000,
        fast: () => this.sources.some((s) => !s.current),
        fastPollMs: 1000,
        log: this.d.log,
      });
    }
    await this.redirect?.listen();
    this.acme?.start();
  }

  /** Read every source again (watch hints, SIGHUP); a source that changed rebuilds the table. */
  async reloadAll(): Promise<void> {
    await Promise.all(this.sources.map((s) => s.reload()));
  }

  stop(): void {
    this.acme?.stop();
    this.ocsp?.stop();
    this.redirect?.close();
    void this.watch?.close();
  }

  /** Certificates in use, per source: for logs and the admin API. */
  describe(): { source: string; dir: string; names: readonly string[]; serialNumber?: string; notAfter?: string; reloads: number; errors: number; lastError?: string }[] {
    return this.sources.map((s) => ({
      source: s.label,
      dir: s.status.dir,
      names: s.current?.names ?? [],
      serialNumber: s.current?.leaf.serialNumber,
      notAfter: s.current ? new Date(s.current.leaf.notAfter).toISOString() : undefined,
      reloads: s.status.reloads,
      errors: s.status.errors,
      lastError: s.status.lastError?.message,
    }));
  }

  // ---- handshakes ----

  private selectContext(servername: string, cb: (err: Error | null, ctx?: SecureContext) => void): void {
    const m = lookupServerName(this.table, servername);
    if (m.entry) return cb(null, m.entry.context);
    if (this.cfg.strictSni) return cb(new UnknownServerNameError());
    const fallback = this.table.fallback;
    if (fallback) return cb(null, fallback.context);
    cb(new NoCertificateError(m.label));
  }

  /** The server_name label of a handshake: a configured name, NO_SNI or UNKNOWN_NAME. */
  private labelOf(servername: string | false | undefined | null): string {
    return this.ownsCertificates ? lookupServerName(this.table, servername).label : servername ? UNKNOWN_NAME : NO_SNI;
  }

  handshakeOk(s: TLSSocket): void {
    const label = this.labelOf(s.servername);
    let child = this.okChildren.get(label);
    if (!child) {
      child = this.d.metrics.offloadHandshakes.labels(this.d.listener, label, 'ok', '');
      if (this.okChildren.size < 4096) this.okChildren.set(label, child);
    }
    child.inc();
  }

  handshakeError(err: Error & { code?: string }, s: TLSSocket): void {
    const servername = (s as { servername?: string | false }).servername;
    const label = this.labelOf(servername);
    let reason = offloadHandshakeReason(err);
    if (reason === 'cipher' && this.ownsCertificates && !servername && !this.table.fallback) reason = 'no_certificate';
    this.d.metrics.offloadHandshakes.labels(this.d.listener, label, 'error', reason).inc();
    this.d.log.warn(
      { event: 'offload_handshake', listener: this.d.listener, server_name: label, sni: typeof servername === 'string' ? servername.slice(0, 253) : undefined, result: 'error', reason, error: err.code ?? err.message, remote: s.remoteAddress ?? (s as { _parent?: { remoteAddress?: string } })._parent?.remoteAddress },
      'client handshake failed',
    );
  }

  // ---- certificate set ----

  private onSourceReload(label: string, result: 'ok' | 'error'): void {
    this.d.metrics.offloadCertificateReloads.labels(this.d.listener, label, result).inc();
    // Every publish (a watched rotation, SIGHUP, an ACME issuance) takes effect here.
    if (result === 'ok') this.rebuild();
  }

  private contextFor(cert: ServerCertificate): SecureContext {
    let ctx = this.contexts.get(cert);
    if (!ctx) {
      ctx = tls.createSecureContext({ key: cert.keyPem, cert: cert.certPem, ...this.policy });
      this.contexts.set(cert, ctx);
    }
    return ctx;
  }

  private rebuild(): void {
    const entries: SniEntry<SecureContext>[] = [];
    for (const s of this.sources) {
      const cert = s.current;
      if (cert) entries.push({ source: s.label, cert, context: this.contextFor(cert) });
    }
    const { table, shadowed } = buildSniTable(entries, this.cfg.defaultCertificate);
    if (shadowed.length) this.d.log.warn({ event: 'offload_names_shadowed', listener: this.d.listener, names: shadowed }, 'some names are served by an earlier certificate');
    if (this.cfg.defaultCertificate && entries.length && !table.fallback) {
      this.d.log.warn({ event: 'offload_default_missing', listener: this.d.listener, defaultCertificate: this.cfg.defaultCertificate }, 'no loaded certificate serves defaultCertificate: clients without SNI fail the handshake');
    }
    const prev = this.table;
    this.table = table;
    this.ocsp?.update(entries.map((e) => e.cert));
    this.updateExpiry(prev);
    this.applyFallback();
  }

  private applyFallback(): void {
    const fallback = this.table.fallback?.cert;
    if (!this.server || !fallback || fallback === this.fallback) return;
    this.fallback = fallback;
    this.server.setSecureContext({ key: fallback.keyPem, cert: fallback.certPem, ...this.policy });
  }

  /** One expiry series per name served now; the series of names the previous table served and this one does not are removed. */
  private updateExpiry(prev: SniTable<SecureContext>): void {
    const gauge = this.d.metrics.offloadCertificateExpiry;
    for (const [name, entry] of this.table.names) gauge.labels(this.d.listener, name).set(Math.floor(entry.cert.leaf.notAfter / 1000));
    for (const name of prev.names.keys()) if (!this.table.names.has(name)) gauge.remove(this.d.listener, name);
  }
}

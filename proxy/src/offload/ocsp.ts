// OCSP stapling (RFC 6960, RFC 6066 status_request) for offload certificates
// that name a responder: fetch the response in the background, keep it while
// it is fresh, refresh it half-way to its nextUpdate, and hand it to clients
// that ask. No staple is better than a wrong one: a response that is not
// `good` for exactly this certificate, or is stale, is not stapled. The client
// verifies the responder's signature, as it does for every staple.
import { createHash, type X509Certificate } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { oneLine } from '../errors.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { bytesOf, children, contentOf, encode, generalizedTime, read, seq } from './der.js';
import type { ServerCertificate } from './webpki.js';

const SHA1_ALG = seq(Buffer.from('06052b0e03021a', 'hex'), Buffer.from('0500', 'hex'));
const OCSP_BASIC = Buffer.from('2b0601050507300101', 'hex'); // 1.3.6.1.5.5.7.48.1.1
const RETRY_MS = 5 * 60_000;
const MIN_REFRESH_MS = 60_000;
const MAX_REFRESH_MS = 24 * 3600_000;
const FETCH_TIMEOUT_MS = 10_000;

/** The parts of a certificate an OCSP CertID needs, read from its DER. */
function certParts(cert: X509Certificate): { serial: Buffer; subject: Buffer; publicKeyBits: Buffer } {
  const raw = cert.raw;
  const tbs = children(raw, children(raw, read(raw))[0]!);
  const i = tbs[0]!.tag === 0xa0 ? 1 : 0;
  const spki = children(raw, tbs[i + 5]!);
  return { serial: bytesOf(raw, tbs[i]!), subject: bytesOf(raw, tbs[i + 4]!), publicKeyBits: contentOf(raw, spki[1]!).subarray(1) };
}

/** The DER CertID of `leaf` issued by `issuer` (SHA-1, as every responder accepts). */
export function certId(leaf: X509Certificate, issuer: X509Certificate): Buffer {
  const sha1 = (b: Buffer) => createHash('sha1').update(b).digest();
  const l = certParts(leaf);
  const i = certParts(issuer);
  return seq(SHA1_ALG, encode(0x04, sha1(i.subject)), encode(0x04, sha1(i.publicKeyBits)), l.serial);
}

export function ocspRequest(id: Buffer): Buffer {
  return seq(seq(seq(seq(id))));
}

export interface OcspAnswer {
  status: 'good' | 'revoked' | 'unknown';
  thisUpdate: number;
  nextUpdate: number | undefined;
}

/** Read a DER OCSPResponse for the certificate with this CertID's serial. Throws on anything unusable. */
export function parseOcspResponse(der: Buffer, id: Buffer): OcspAnswer {
  const top = children(der, read(der));
  const status = contentOf(der, top[0]!)[0];
  if (top[0]!.tag !== 0x0a || status !== 0) throw new Error(`OCSP responder answered status ${status ?? '?'} (not successful)`);
  if (!top[1] || top[1].tag !== 0xa0) throw new Error('OCSP response without responseBytes');
  const bytes = children(der, children(der, top[1])[0]!);
  if (!contentOf(der, bytes[0]!).equals(OCSP_BASIC)) throw new Error('OCSP response is not id-pkix-ocsp-basic');
  const basic = contentOf(der, bytes[1]!);
  const data = children(basic, children(basic, read(basic))[0]!);
  const responses = data.find((t, k) => t.tag === 0x30 && k > 0 && data[k - 1]!.tag === 0x18);
  if (!responses) throw new Error('OCSP response without responses');
  const wantSerial = bytesOf(id, children(id, read(id))[3]!);
  for (const single of children(basic, responses)) {
    const parts = children(basic, single);
    const cid = children(basic, parts[0]!);
    if (!bytesOf(basic, cid[3]!).equals(wantSerial)) continue;
    const tag = parts[1]!.tag;
    const status = tag === 0x80 ? 'good' : tag === 0xa1 ? 'revoked' : 'unknown';
    const thisUpdate = generalizedTime(contentOf(basic, parts[2]!).toString('latin1'));
    const next = parts.slice(3).find((p) => p.tag === 0xa0);
    const nextUpdate = next ? generalizedTime(contentOf(basic, children(basic, next)[0]!).toString('latin1')) : undefined;
    return { status, thisUpdate, nextUpdate };
  }
  throw new Error('OCSP response does not cover this certificate');
}

function post(url: string, body: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const mod = url.startsWith('https:') ? https : http;
    const req = mod.request(url, { method: 'POST', headers: { 'content-type': 'application/ocsp-request', accept: 'application/ocsp-response', 'content-length': body.length }, timeout: FETCH_TIMEOUT_MS }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => (res.statusCode === 200 ? resolve(Buffer.concat(chunks)) : reject(new Error(`HTTP ${res.statusCode}`))));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(body);
  });
}

interface Entry {
  cert: ServerCertificate;
  id: Buffer;
  staple?: { der: Buffer; nextUpdate: number | undefined };
  timer?: NodeJS.Timeout;
}

export class OcspStapler {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly o: { listener: string; clock: () => number; metrics: Metrics; log: Logger; fetch?: (url: string, body: Buffer) => Promise<Buffer> }) {}

  /** The certificates in use now: start fetching for new ones that name a responder, forget the rest. */
  update(certs: readonly ServerCertificate[]): void {
    const keep = new Set<string>();
    for (const cert of certs) {
      if (!cert.ocspUrl || !cert.issuer) continue;
      keep.add(cert.leaf.sha256);
      if (this.entries.has(cert.leaf.sha256)) continue;
      const entry: Entry = { cert, id: certId(cert.chain[0]!, cert.issuer) };
      this.entries.set(cert.leaf.sha256, entry);
      void this.refresh(entry);
    }
    for (const [key, e] of this.entries) {
      if (keep.has(key)) continue;
      if (e.timer) clearTimeout(e.timer);
      this.entries.delete(key);
    }
  }

  /**
   * For tls.Server 'OCSPRequest' (every handshake that asks for a status): the
   * fresh staple of this certificate, or none. The DER is compared with the few
   * certificates that name a responder, not hashed: nothing to do without any.
   */
  staple(certDer: Buffer, cb: (err: Error | null, response?: Buffer) => void): void {
    for (const e of this.entries.values()) {
      if (!e.cert.chain[0]!.raw.equals(certDer)) continue;
      const s = e.staple;
      if (s && (s.nextUpdate === undefined || this.o.clock() < s.nextUpdate)) return cb(null, s.der);
      break;
    }
    cb(null);
  }

  stop(): void {
    for (const e of this.entries.values()) if (e.timer) clearTimeout(e.timer);
    this.entries.clear();
  }

  private schedule(e: Entry, ms: number): void {
    if (!this.entries.has(e.cert.leaf.sha256)) return;
    e.timer = setTimeout(() => void this.refresh(e), ms);
    e.timer.unref();
  }

  private async refresh(e: Entry): Promise<void> {
    const url = e.cert.ocspUrl!;
    const now = this.o.clock();
    try {
      const der = await (this.o.fetch ?? post)(url, ocspRequest(e.id));
      const a = parseOcspResponse(der, e.id);
      if (a.status !== 'good') {
        e.staple = undefined;
        this.o.metrics.ocspFetches.labels(this.o.listener, a.status).inc();
        this.o.log.error({ event: 'ocsp_status', listener: this.o.listener, serial: e.cert.leaf.serialNumber, names: e.cert.names, status: a.status, responder: url }, `OCSP responder says the certificate is ${a.status}: not stapling`);
        return this.schedule(e, RETRY_MS);
      }
      if (a.nextUpdate !== undefined && a.nextUpdate <= now) throw new Error('the response is already stale');
      e.staple = { der, nextUpdate: a.nextUpdate };
      this.o.metrics.ocspFetches.labels(this.o.listener, 'good').inc();
      const half = a.nextUpdate === undefined ? MAX_REFRESH_MS : (a.nextUpdate - Math.min(a.thisUpdate, now)) / 2;
      this.schedule(e, Math.max(MIN_REFRESH_MS, Math.min(MAX_REFRESH_MS, half)));
    } catch (err) {
      this.o.metrics.ocspFetches.labels(this.o.listener, 'error').inc();
      this.o.log.warn({ event: 'ocsp_fetch_failed', listener: this.o.listener, serial: e.cert.leaf.serialNumber, responder: url, error: oneLine(err), keeping: e.staple ? 'previous staple until its nextUpdate' : 'no staple' }, 'OCSP fetch failed');
      this.schedule(e, RETRY_MS);
    }
  }
}

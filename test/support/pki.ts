// Builders for test PKI: CAs, intermediates and leaves of every good and bad
// kind, written to temp dirs in the cert-manager Secret layout.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildCertificate, EKU_CLIENT_AUTH, EKU_SERVER_AUTH, type Issued, type Issuer } from '../../proxy/src/ca/certificate-builder.js';
import { generateKeyPair, type KeyPair, type KeyType } from '../../proxy/src/ca/keys.js';
import { writeAtomic } from '../../proxy/src/ca/atomic-writer.js';

export { EKU_CLIENT_AUTH, EKU_SERVER_AUTH };
export type { Issued };

export interface TestCa extends Issued {
  issuer: Issuer;
}

export async function ca(o: { name?: string; trustDomain?: string; keyType?: KeyType; notBefore?: Date; notAfter?: Date; issuer?: TestCa } = {}): Promise<TestCa> {
  const c = await buildCertificate({
    subject: `CN=${o.name ?? 'test root'}, O=tlsmesh tests`,
    isCa: true,
    keyType: o.keyType,
    uris: o.trustDomain ? [`spiffe://${o.trustDomain}`] : undefined,
    notBefore: o.notBefore,
    notAfter: o.notAfter ?? new Date(Date.now() + 10 * 86_400_000),
    issuer: o.issuer?.issuer,
  });
  return { ...c, issuer: { cert: c.cert, key: c.key } };
}

export interface LeafSpec {
  issuer: TestCa;
  spiffeId?: string;
  /** Extra URI SANs (to make a bad SVID), or replace with `uris`. */
  uris?: string[];
  dnsNames?: string[];
  notBefore?: Date;
  notAfter?: Date;
  keyType?: KeyType;
  key?: KeyPair;
  isCa?: boolean;
  keyUsage?: number;
  extKeyUsage?: string[];
  cn?: string;
  /** A subjectAltName extension that does not decode (certificate-builder.ts). */
  undecodableSan?: boolean;
}

export async function leaf(s: LeafSpec): Promise<Issued> {
  const uris = s.uris ?? (s.spiffeId ? [s.spiffeId] : []);
  const notBefore = s.notBefore ?? new Date(Date.now() - 60_000);
  return buildCertificate({
    subject: `CN=${s.cn ?? (s.spiffeId ? s.spiffeId.split('/').pop() : 'leaf')}, O=tlsmesh tests`,
    issuer: s.issuer.issuer,
    key: s.key,
    keyType: s.keyType,
    uris,
    dnsNames: s.dnsNames,
    notBefore,
    notAfter: s.notAfter ?? new Date(notBefore.getTime() + 86_400_000),
    isCa: s.isCa,
    keyUsage: s.keyUsage,
    extKeyUsage: s.extKeyUsage,
    undecodableSan: s.undecodableSan,
  });
}

export { generateKeyPair };

export function chainPem(...certs: Issued[]): string {
  return certs.map((c) => c.certPem).join('');
}

/** A fresh temp dir removed by the returned cleanup (call it in afterAll/afterEach). */
export function tempDir(prefix = 'tlsmesh-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Write a Secret directory with kubelet's atomic steps (a rotation when it exists). */
export function writeSecret(dir: string, files: { cert: string; key: string; ca: string }): Promise<string> {
  return writeAtomic(dir, {
    'tls.crt': { data: files.cert },
    'tls.key': { data: files.key, mode: 0o600 },
    'ca.crt': { data: files.ca },
  });
}

/** Write a Secret directory of plain files (no symlinks), replaced in place. */
export function writePlainSecret(dir: string, files: { cert: string; key: string; ca: string }): void {
  writeFileSync(join(dir, 'tls.crt'), files.cert);
  writeFileSync(join(dir, 'tls.key'), files.key, { mode: 0o600 });
  writeFileSync(join(dir, 'ca.crt'), files.ca);
}

/** Identity material for one workload: its leaf, key and the CA bundle. */
export async function identity(root: TestCa, spiffeId: string, o: Partial<LeafSpec> = {}, bundle?: string) {
  const l = await leaf({ issuer: root, spiffeId, ...o });
  return { leaf: l, files: { cert: l.certPem, key: l.key.privatePem, ca: bundle ?? root.certPem } };
}

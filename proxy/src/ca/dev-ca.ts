// The dev issuer behind `tlsmesh ca`: a local CA in a directory and X509-SVIDs
// issued from it into the cert-manager Secret layout.
import { X509Certificate } from 'node:crypto';
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { TlsmeshError } from '../errors.js';
import { SpiffeId } from '../identity/spiffe-id.js';
import { certFacts } from '../identity/x509.js';
import { buildCertificate, parsePeculiar, type Issuer } from './certificate-builder.js';
import { generateKeyPair, importKeyPair, type KeyType } from './keys.js';
import { writeAtomic, type WriteOptions } from './atomic-writer.js';

export class CaError extends TlsmeshError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('TLSMESH_ERR_CA', message, options);
  }
}

export interface DevCa extends Issuer {
  trustDomain: string;
  certPem: string;
}

export async function initCa(dir: string, trustDomain: string, o: { keyType?: KeyType; ttlMs?: number } = {}): Promise<DevCa> {
  await mkdir(dir, { recursive: true });
  const key = await generateKeyPair(o.keyType ?? 'ec-p256');
  const notBefore = new Date(Date.now() - 60_000);
  const ca = await buildCertificate({
    subject: `CN=tlsmesh dev CA ${trustDomain}, O=tlsmesh`,
    key,
    isCa: true,
    pathLength: 1,
    uris: [`spiffe://${trustDomain}`],
    notBefore,
    notAfter: new Date(notBefore.getTime() + (o.ttlMs ?? 10 * 365 * 86_400_000)),
  });
  await writeFile(join(dir, 'ca.crt'), ca.certPem, { mode: 0o644 });
  await writeFile(join(dir, 'ca.key'), key.privatePem, { mode: 0o600 });
  return { cert: ca.cert, key, trustDomain, certPem: ca.certPem };
}

export async function loadCa(dir: string): Promise<DevCa> {
  let certPem: string;
  let keyPem: string;
  try {
    certPem = await readFile(join(dir, 'ca.crt'), 'utf8');
    keyPem = await readFile(join(dir, 'ca.key'), 'utf8');
  } catch (err) {
    throw new CaError(`--ca: ${dir} is not a CA directory (ca.crt and ca.key; create one with tlsmesh ca init)`, { cause: err });
  }
  const cert = parsePeculiar(certPem);
  const key = await importKeyPair(keyPem);
  const td = certFacts(new X509Certificate(certPem)).uris.map((u) => SpiffeId.tryParse(u)?.trustDomain).find(Boolean);
  return { cert, key, trustDomain: td ?? '', certPem };
}

export interface IssueOptions {
  spiffeId: string;
  ttlMs: number;
  dnsNames?: string[];
  keyType?: KeyType;
  notBefore?: Date;
}

export interface IssuedSvid {
  certPem: string;
  keyPem: string;
  caPem: string;
  serialNumber: string;
  notBefore: Date;
  notAfter: Date;
}

export async function issueSvid(ca: DevCa, o: IssueOptions): Promise<IssuedSvid> {
  const id = SpiffeId.tryParse(o.spiffeId);
  if (!id || id.path === '') throw new CaError(`--spiffe-id: not a workload SPIFFE ID: ${o.spiffeId}`);
  if (ca.trustDomain && id.trustDomain !== ca.trustDomain) {
    throw new CaError(`--spiffe-id: trust domain ${id.trustDomain} differs from the CA's (${ca.trustDomain})`);
  }
  const notBefore = o.notBefore ?? new Date(Date.now() - 1000);
  const notAfter = new Date(notBefore.getTime() + o.ttlMs);
  const leaf = await buildCertificate({
    subject: `O=tlsmesh, CN=${id.path.split('/').pop()}`,
    issuer: ca,
    keyType: o.keyType ?? 'ec-p256',
    uris: [id.toString()],
    dnsNames: o.dnsNames,
    notBefore,
    notAfter,
  });
  return { certPem: leaf.certPem, keyPem: leaf.key.privatePem, caPem: ca.certPem, serialNumber: leaf.cert.serialNumber.toLowerCase(), notBefore, notAfter };
}

/** Write an SVID in the cert-manager Secret layout with kubelet's atomic steps. */
export function writeSvid(dir: string, svid: IssuedSvid, o: WriteOptions = {}): Promise<string> {
  return writeAtomic(
    dir,
    {
      'tls.crt': { data: svid.certPem, mode: 0o644 },
      'tls.key': { data: svid.keyPem, mode: 0o600 },
      'ca.crt': { data: svid.caPem, mode: 0o644 },
    },
    o,
  );
}

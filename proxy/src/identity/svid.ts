// The X509-SVID rules (SPIFFE X509-SVID spec, sections 4 and 5) as a chain of
// small checks, each returning what is wrong or undefined.
import type { CertFacts } from './x509.js';
import { EKU_CLIENT_AUTH, EKU_SERVER_AUTH, KeyUsage } from './x509.js';
import { SpiffeId, spiffeIdProblem } from './spiffe-id.js';

/** Which end of a TLS connection the certificate authenticates. */
export type TlsRole = 'client' | 'server' | 'any';

export type SvidResult = { ok: true; id: SpiffeId } | { ok: false; problem: string; id?: SpiffeId };

export function checkSvid(facts: CertFacts, trustDomain: string, role: TlsRole = 'any'): SvidResult {
  if (facts.uris.length === 0) return { ok: false, problem: 'no URI SAN (an X509-SVID has exactly one spiffe:// URI SAN)' };
  if (facts.uris.length > 1) return { ok: false, problem: `${facts.uris.length} URI SANs (an X509-SVID has exactly one)` };
  const uri = facts.uris[0]!;
  const idProblem = spiffeIdProblem(uri);
  if (idProblem) return { ok: false, problem: `URI SAN ${JSON.stringify(uri)} is not a SPIFFE ID: ${idProblem}` };
  const id = SpiffeId.parse(uri);
  if (id.path === '') return { ok: false, problem: `${uri} has no path (a workload SVID names a workload)`, id };
  if (id.trustDomain !== trustDomain) {
    return { ok: false, problem: `trust domain exp=${trustDomain} got=${id.trustDomain}`, id };
  }
  if (facts.isCa) return { ok: false, problem: 'the leaf is a CA certificate (basicConstraints CA:TRUE)', id };
  if (facts.keyUsage !== undefined) {
    if (!(facts.keyUsage & KeyUsage.digitalSignature)) return { ok: false, problem: 'key usage lacks digitalSignature', id };
    if (facts.keyUsage & (KeyUsage.keyCertSign | KeyUsage.cRLSign)) {
      return { ok: false, problem: 'key usage of a leaf has keyCertSign or cRLSign', id };
    }
  }
  if (facts.extKeyUsage !== undefined) {
    const eku = facts.extKeyUsage;
    const client = eku.includes(EKU_CLIENT_AUTH);
    const server = eku.includes(EKU_SERVER_AUTH);
    if (role === 'client' && !client) return { ok: false, problem: 'extended key usage lacks clientAuth', id };
    if (role === 'server' && !server) return { ok: false, problem: 'extended key usage lacks serverAuth', id };
    if (role === 'any' && !client && !server) return { ok: false, problem: 'extended key usage has neither serverAuth nor clientAuth', id };
  }
  return { ok: true, id };
}

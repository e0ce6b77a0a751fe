// GET /certs: what identity this sidecar presents, what it trusts, and how its
// reloads went. Public data only: never the key.
import type { Credentials } from '../identity/credentials.js';
import type { CredentialStore } from '../identity/credential-store.js';

export function certsDocument(store: CredentialStore, now: number): { status: number; body: unknown } {
  const creds: Credentials | undefined = store.current;
  const sources = { identity: store.identityStatus, trustBundle: store.bundleStatus };
  if (!creds) return { status: 503, body: { error: 'no identity loaded', reason: store.absentReason ?? store.identityStatus.lastError?.message, sources } };
  const leaf = creds.leaf;
  return {
    status: 200,
    body: {
      spiffeId: creds.spiffeId.toString(),
      serialNumber: leaf.serialNumber,
      notBefore: new Date(leaf.notBefore).toISOString(),
      notAfter: new Date(leaf.notAfter).toISOString(),
      spkiPin: leaf.spkiPin,
      issuer: leaf.issuer,
      subject: leaf.subject,
      dnsNames: leaf.dnsNames,
      expired: now > leaf.notAfter,
      secondsToExpiry: Math.round((leaf.notAfter - now) / 1000),
      generation: creds.generation,
      loadedAt: new Date(creds.loadedAt).toISOString(),
      chain: creds.chain.slice(1).map((c) => ({ subject: c.subject.split('\n').join(', '), notAfter: new Date(Date.parse(c.validTo)).toISOString() })),
      trustAnchors: creds.anchorInfo.map((a) => ({ subject: a.subject, spkiPin: a.spkiPin, notAfter: a.notAfter })),
      sources,
    },
  };
}

// The attacker's certificates: one from a CA of its own (claiming the
// frontend's identity), and a real SVID from the demo CA for an identity the
// backend does not allow. Made in memory, after the first screen is up
// (@peculiar/x509 takes a moment to load); nothing is written to disk.
import { generateKeyPairSync } from 'node:crypto';
import { spkiPinOfDer } from '../identity/pin.js';
import type { AttackerMaterial } from './attacks.js';
import { FRONTEND_ID, INTRUDER_ID } from './topology.js';

/** The SPKI pin of a fresh key that appears in no certificate of the demo. */
export function unrelatedPin(): string {
  const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return spkiPinOfDer(publicKey.export({ type: 'spki', format: 'der' }));
}

export async function attackerMaterial(caDir: string): Promise<AttackerMaterial> {
  const { buildCertificate } = await import('../ca/certificate-builder.js');
  const { issueSvid, loadCa } = await import('../ca/dev-ca.js');
  const notBefore = new Date(Date.now() - 60_000);
  const notAfter = new Date(Date.now() + 86_400_000);
  const rogueCa = await buildCertificate({ subject: 'CN=rogue CA, O=not the mesh', isCa: true, notBefore, notAfter });
  const forged = await buildCertificate({
    subject: 'CN=frontend, O=not the mesh',
    issuer: { cert: rogueCa.cert, key: rogueCa.key },
    uris: [FRONTEND_ID],
    notBefore,
    notAfter,
  });
  const intruder = await issueSvid(await loadCa(caDir), { spiffeId: INTRUDER_ID, ttlMs: 3_600_000 });
  return {
    untrusted: { cert: forged.certPem + rogueCa.certPem, key: forged.key.privatePem },
    intruder: { cert: intruder.certPem, key: intruder.keyPem },
  };
}

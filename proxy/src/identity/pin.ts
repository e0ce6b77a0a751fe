// SPKI pins in RFC 7469's form: sha256/BASE64(SHA-256(SubjectPublicKeyInfo DER)).
import { createHash, timingSafeEqual, type X509Certificate } from 'node:crypto';

const PIN = /^sha256\/([A-Za-z0-9+/]{43}=)$/;

export function spkiPinOfDer(spkiDer: Buffer): string {
  return `sha256/${createHash('sha256').update(spkiDer).digest('base64')}`;
}

export function spkiPinOf(cert: X509Certificate): string {
  return spkiPinOfDer(cert.publicKey.export({ type: 'spki', format: 'der' }));
}

/** The 32 digest bytes of a pin, or undefined when it is not `sha256/` + 32 bytes of base64. */
export function parsePin(text: string): Buffer | undefined {
  const m = PIN.exec(text);
  if (!m) return undefined;
  const bytes = Buffer.from(m[1]!, 'base64');
  return bytes.length === 32 ? bytes : undefined;
}

export function pinProblem(text: string): string | undefined {
  return parsePin(text) ? undefined : 'expected sha256/ followed by 44 characters of base64 (a SHA-256 digest)';
}

/**
 * A set of pins compared in constant time per candidate: every configured pin is
 * compared against every candidate, so the time taken does not depend on which
 * (if any) matched.
 */
export class PinSet {
  private constructor(private readonly digests: readonly Buffer[]) {}

  static from(pins: readonly string[]): PinSet {
    return new PinSet(
      pins.map((p) => {
        const d = parsePin(p);
        if (!d) throw new TypeError(`invalid pin ${JSON.stringify(p)}`);
        return d;
      }),
    );
  }

  get size(): number {
    return this.digests.length;
  }

  /** True when any candidate pin (sha256/...) equals any configured pin. */
  matchesAny(candidates: readonly string[]): boolean {
    let hit = 0;
    for (const c of candidates) {
      const d = parsePin(c);
      if (!d) continue;
      for (const want of this.digests) hit |= timingSafeEqual(d, want) ? 1 : 0;
    }
    return hit === 1;
  }
}

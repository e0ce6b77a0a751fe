import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { x509 } from './peculiar.js';
import { PinSet, parsePin, pinProblem, spkiPinOf, spkiPinOfDer } from './pin.js';
import { ca, leaf, tempDir } from '../../../test/support/pki.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

describe('spkiPinOf', () => {
  it.each(['ec-p256', 'ec-p384', 'rsa-2048', 'ed25519'] as const)('%s: node:crypto, @peculiar/x509 and openssl agree', async (keyType) => {
    const root = await ca();
    const l = await leaf({ issuer: root, spiffeId: 'spiffe://td/ns/a/sa/b', keyType });
    const ours = spkiPinOf(new X509Certificate(l.certPem));
    const peculiar = new x509.X509Certificate(l.certPem);
    const viaPeculiar = spkiPinOfDer(Buffer.from(peculiar.publicKey.rawData));
    const file = join(tmp.dir, `${keyType}.pem`);
    writeFileSync(file, l.certPem);
    const pub = execFileSync('openssl', ['x509', '-in', file, '-noout', '-pubkey']);
    const der = execFileSync('openssl', ['pkey', '-pubin', '-outform', 'der'], { input: pub });
    const viaOpenssl = `sha256/${execFileSync('openssl', ['dgst', '-sha256', '-binary'], { input: der }).toString('base64')}`;
    expect(ours).toMatch(/^sha256\/[A-Za-z0-9+/]{43}=$/);
    expect(viaPeculiar).toBe(ours);
    expect(viaOpenssl).toBe(ours);
  });
});

describe('pins', () => {
  const good = `sha256/${Buffer.alloc(32, 1).toString('base64')}`;
  const other = `sha256/${Buffer.alloc(32, 2).toString('base64')}`;

  it.each([
    [good, true],
    ['sha256/abc', false],
    [`sha1/${Buffer.alloc(32, 1).toString('base64')}`, false],
    [`sha256/${Buffer.alloc(31, 1).toString('base64')}`, false],
    [good.replace('sha256/', 'SHA256/'), false],
  ])('%s valid=%s', (pin, ok) => {
    expect(parsePin(pin) !== undefined).toBe(ok);
    expect(pinProblem(pin) === undefined).toBe(ok);
  });

  it('PinSet matches any candidate against any configured pin', () => {
    const set = PinSet.from([good]);
    expect(set.matchesAny([other, good])).toBe(true);
    expect(set.matchesAny([other])).toBe(false);
    expect(set.matchesAny([])).toBe(false);
    expect(set.matchesAny(['garbage'])).toBe(false);
  });
});

// Key pairs for the dev issuer and tests: WebCrypto keys (for @peculiar/x509)
// with their PKCS#8 PEM, in the algorithms the contract requires.
import { webcrypto, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';

type Algorithm = webcrypto.Algorithm;
type EcdsaParams = webcrypto.EcdsaParams;
type EcKeyGenParams = webcrypto.EcKeyGenParams;
type EcKeyImportParams = webcrypto.EcKeyImportParams;
type RsaHashedKeyGenParams = webcrypto.RsaHashedKeyGenParams;
export type CryptoKeyPair = webcrypto.CryptoKeyPair;

export type KeyType = 'ec-p256' | 'ec-p384' | 'rsa-2048' | 'rsa-3072' | 'ed25519';
export const KEY_TYPES: readonly KeyType[] = ['ec-p256', 'ec-p384', 'rsa-2048', 'rsa-3072', 'ed25519'];

const subtle = webcrypto.subtle;

interface AlgSpec {
  gen: RsaHashedKeyGenParams | EcKeyGenParams | { name: 'Ed25519' };
  sign: Algorithm | EcdsaParams;
}

function algOf(type: KeyType): AlgSpec {
  switch (type) {
    case 'ec-p256':
      return { gen: { name: 'ECDSA', namedCurve: 'P-256' }, sign: { name: 'ECDSA', hash: 'SHA-256' } as EcdsaParams };
    case 'ec-p384':
      return { gen: { name: 'ECDSA', namedCurve: 'P-384' }, sign: { name: 'ECDSA', hash: 'SHA-384' } as EcdsaParams };
    case 'rsa-2048':
    case 'rsa-3072':
      return {
        gen: {
          name: 'RSASSA-PKCS1-v1_5',
          modulusLength: type === 'rsa-2048' ? 2048 : 3072,
          publicExponent: new Uint8Array([1, 0, 1]),
          hash: 'SHA-256',
        },
        sign: { name: 'RSASSA-PKCS1-v1_5' },
      };
    case 'ed25519':
      return { gen: { name: 'Ed25519' }, sign: { name: 'Ed25519' } };
  }
}

export interface KeyPair {
  type: KeyType;
  keys: CryptoKeyPair;
  /** PKCS#8 PEM of the private key. */
  privatePem: string;
  signingAlgorithm: Algorithm | EcdsaParams;
}

export async function generateKeyPair(type: KeyType = 'ec-p256'): Promise<KeyPair> {
  const spec = algOf(type);
  const keys = (await subtle.generateKey(spec.gen as EcKeyGenParams, true, ['sign', 'verify'])) as CryptoKeyPair;
  const pkcs8 = Buffer.from(await subtle.exportKey('pkcs8', keys.privateKey));
  return { type, keys, privatePem: toPem('PRIVATE KEY', pkcs8), signingAlgorithm: spec.sign };
}

/** Import a PEM private key (PKCS#8, PKCS#1 or SEC1) back into a KeyPair. */
export async function importKeyPair(pem: string): Promise<KeyPair> {
  const keyObject = createPrivateKey(pem);
  const type = keyTypeOf(keyObject);
  const spec = algOf(type);
  const pkcs8 = keyObject.export({ type: 'pkcs8', format: 'der' });
  const privateKey = await subtle.importKey('pkcs8', pkcs8, spec.gen as EcKeyImportParams, true, ['sign']);
  const spki = createPublicKey(keyObject).export({ type: 'spki', format: 'der' });
  const publicKey = await subtle.importKey('spki', spki, spec.gen as EcKeyImportParams, true, ['verify']);
  return { type, keys: { privateKey, publicKey }, privatePem: toPem('PRIVATE KEY', pkcs8), signingAlgorithm: spec.sign };
}

export function keyTypeOf(key: KeyObject): KeyType {
  const t = key.asymmetricKeyType;
  if (t === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (curve === 'prime256v1') return 'ec-p256';
    if (curve === 'secp384r1') return 'ec-p384';
    throw new TypeError(`unsupported EC curve ${curve}`);
  }
  if (t === 'rsa') return (key.asymmetricKeyDetails?.modulusLength ?? 0) >= 3072 ? 'rsa-3072' : 'rsa-2048';
  if (t === 'ed25519') return 'ed25519';
  throw new TypeError(`unsupported key type ${t}`);
}

export function toPem(label: string, der: Buffer | ArrayBuffer): string {
  const b64 = Buffer.from(der as ArrayBuffer).toString('base64');
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

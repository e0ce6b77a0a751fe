// The client-facing TLS policy of an offload listener as node:tls options:
// TLS 1.2+ and AEAD-only ECDHE suites unless the config says otherwise
// (Mozilla's "intermediate" profile; Envoy and nginx offer the same knobs).
import type { SecureContextOptions } from 'node:tls';
import { DEFAULT_CIPHERS, DEFAULT_CURVES, type TlsPolicyConfig } from '../config/offload.js';
import type { DeepReadonly } from '../config/load.js';

export type PolicyOptions = Required<Pick<SecureContextOptions, 'minVersion' | 'maxVersion' | 'ciphers' | 'ecdhCurve' | 'honorCipherOrder'>>;

export function policyOptions(p: DeepReadonly<TlsPolicyConfig> | undefined): PolicyOptions {
  return {
    minVersion: p?.minVersion === '1.3' ? 'TLSv1.3' : 'TLSv1.2',
    maxVersion: 'TLSv1.3',
    ciphers: (p?.ciphers ?? DEFAULT_CIPHERS).join(':'),
    ecdhCurve: (p?.curves ?? DEFAULT_CURVES).join(':'),
    // Every suite allowed is strong; let the client pick what is fast on its hardware (ChaCha20 on phones).
    honorCipherOrder: false,
  };
}

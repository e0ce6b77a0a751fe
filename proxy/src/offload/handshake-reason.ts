// Why a client-facing handshake failed, as a bounded label: the OpenSSL error
// Node reports, read into what an operator can act on.

export const OFFLOAD_HANDSHAKE_REASONS = [
  /** strictSni: the client asked for a name no certificate serves. */
  'unknown_name',
  /** No certificate is loaded for the name (nor a default). */
  'no_certificate',
  /** The client's TLS versions are outside tlsPolicy.minVersion..1.3. */
  'version',
  /** No cipher suite in common with tlsPolicy.ciphers. */
  'cipher',
  /** No key-exchange group in common with tlsPolicy.curves. */
  'curve',
  /** The client offered ALPN protocols and none of ours (http/1.1 on http listeners). */
  'alpn',
  /** The client refused our certificate (unknown CA, expired, bad certificate alert). */
  'cert_rejected',
  /** Not TLS at all (plain HTTP to the https port, garbage). */
  'not_tls',
  'timeout',
  'reset',
  /** Anything else that broke the handshake. */
  'protocol',
] as const;
export type OffloadHandshakeReason = (typeof OFFLOAD_HANDSHAKE_REASONS)[number];

/** Raised by the SNI callback under strictSni; recognised here by its class. */
export class UnknownServerNameError extends Error {
  constructor() {
    super('no certificate serves the requested server name (strictSni)');
    this.name = 'UnknownServerNameError';
  }
}

/** Raised by the SNI callback when the matched name has no certificate loaded. */
export class NoCertificateError extends Error {
  constructor(label: string) {
    super(`no certificate loaded for ${label}`);
    this.name = 'NoCertificateError';
  }
}

const BY_CODE: Record<string, OffloadHandshakeReason> = {
  ERR_SSL_UNSUPPORTED_PROTOCOL: 'version',
  ERR_SSL_NO_PROTOCOLS_AVAILABLE: 'version',
  ERR_SSL_UNSUPPORTED_SSL_VERSION: 'version',
  ERR_SSL_VERSION_TOO_LOW: 'version',
  ERR_SSL_NO_SHARED_CIPHER: 'cipher',
  ERR_SSL_NO_CIPHERS_AVAILABLE: 'cipher',
  ERR_SSL_NO_SUITABLE_KEY_SHARE: 'curve',
  ERR_SSL_NO_SHARED_GROUPS: 'curve',
  ERR_SSL_NO_APPLICATION_PROTOCOL: 'alpn',
  ERR_SSL_HTTP_REQUEST: 'not_tls',
  ERR_SSL_HTTPS_PROXY_REQUEST: 'not_tls',
  ERR_SSL_WRONG_VERSION_NUMBER: 'not_tls',
  ERR_SSL_PACKET_LENGTH_TOO_LONG: 'not_tls',
  ERR_TLS_HANDSHAKE_TIMEOUT: 'timeout',
  ECONNRESET: 'reset',
  EPIPE: 'reset',
};

export function offloadHandshakeReason(err: Error & { code?: string }): OffloadHandshakeReason {
  if (err instanceof UnknownServerNameError) return 'unknown_name';
  if (err instanceof NoCertificateError) return 'no_certificate';
  const code = err.code ?? '';
  const known = BY_CODE[code];
  if (known) return known;
  if (/^ERR_SSL_(SSLV3|TLSV1)_ALERT_(UNKNOWN_CA|BAD_CERTIFICATE|CERTIFICATE_|UNSUPPORTED_CERTIFICATE)/.test(code)) return 'cert_rejected';
  return 'protocol';
}

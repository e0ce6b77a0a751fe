// TLS contexts derive from a frozen Credentials generation, built once per
// generation (not per connection): the server options for setSecureContext,
// and one client SecureContext shared by every outbound connection.
import { randomBytes } from 'node:crypto';
import tls, { type SecureContext, type SecureContextOptions } from 'node:tls';
import type { Credentials } from '../identity/credentials.js';

export type MinTlsVersion = '1.2' | '1.3';

export function tlsVersion(v: MinTlsVersion): tls.SecureVersion {
  return v === '1.2' ? 'TLSv1.2' : 'TLSv1.3';
}

/** Options for `tls.Server#setSecureContext`; fresh session ticket keys per generation. */
export function serverContextOptions(creds: Credentials, minVersion: MinTlsVersion): SecureContextOptions & { ticketKeys: Buffer } {
  return {
    key: creds.keyPem,
    cert: creds.certPem,
    ca: creds.bundlePem,
    minVersion: tlsVersion(minVersion),
    // Tickets encrypted under keys that die with this generation: a session
    // cannot outlive the identity and bundle it was authorized under.
    ticketKeys: randomBytes(48),
  };
}

const clientContexts = new WeakMap<Credentials, Map<MinTlsVersion, SecureContext>>();

export function clientContext(creds: Credentials, minVersion: MinTlsVersion): SecureContext {
  let byVersion = clientContexts.get(creds);
  if (!byVersion) {
    byVersion = new Map();
    clientContexts.set(creds, byVersion);
  }
  let ctx = byVersion.get(minVersion);
  if (!ctx) {
    ctx = tls.createSecureContext({ key: creds.keyPem, cert: creds.certPem, ca: creds.bundlePem, minVersion: tlsVersion(minVersion) });
    byVersion.set(minVersion, ctx);
  }
  return ctx;
}

import { describe, expect, it } from 'vitest';
import { ConfigError } from '../errors.js';
import { parseConfig } from './load.js';
import { proxyConfigSchema } from './schema.js';

const base = { trustDomain: 'cluster.local', identity: { dir: '/var/run/secrets/tlsmesh' } };
const edge = { listen: '0.0.0.0:8443', forward: '127.0.0.1:8080', protocol: 'http', tls: 'server' };
const parse = (l: Record<string, unknown>) => parseConfig({ ...base, inbound: [{ ...edge, ...l }] }, proxyConfigSchema).inbound[0]!;

function errorOf(l: Record<string, unknown>): string {
  try {
    parse(l);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('offload config', () => {
  it('applies the defaults', () => {
    const l = parse({ certificates: [{ dir: '/certs/www' }], tlsPolicy: {}, hsts: {}, redirect: { listen: '0.0.0.0:8080' } });
    expect(l.strictSni).toBe(false);
    expect(l.tlsPolicy).toEqual({
      minVersion: '1.2',
      ciphers: ['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256', 'ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES128-GCM-SHA256', 'ECDHE-ECDSA-AES256-GCM-SHA384', 'ECDHE-RSA-AES256-GCM-SHA384', 'ECDHE-ECDSA-CHACHA20-POLY1305', 'ECDHE-RSA-CHACHA20-POLY1305'],
      curves: ['X25519', 'P-256', 'P-384'],
      ocspStapling: true,
    });
    expect(l.hsts).toEqual({ maxAge: 31536000, includeSubDomains: false, preload: false });
    expect(l.redirect).toEqual({ listen: { host: '0.0.0.0', port: 8080 }, httpsPort: 443 });
  });

  it('takes a full ACME listener', () => {
    const l = parse({ redirect: { listen: '0.0.0.0:8080' }, acme: { directory: 'https://acme.example/dir', email: 'ops@example.com', names: ['www.example.com'], storageDir: '/var/lib/tlsmesh/acme' } });
    expect(l.acme).toMatchObject({ keyType: 'ecdsa-p256', termsOfServiceAgreed: true });
  });

  it.each([
    [{ tls: 'mutual', certificates: [{ dir: '/c' }] }, 'config: inbound[0].certificates: only with tls: server (TLS offload)'],
    [{ tls: 'permissive', hsts: {} }, 'config: inbound[0].hsts: only with tls: server (TLS offload)'],
    [{ protocol: 'tcp', hsts: {} }, 'config: inbound[0].hsts: only with protocol: http'],
    [{ certificates: [] }, 'config: inbound[0].certificates: expected at least one certificate'],
    [{ certificates: [{ dir: '/c', names: ['WWW.example.com'] }] }, 'config: inbound[0].certificates[0].names[0]: expected lowercase'],
    [{ certificates: [{ dir: '/c', names: ['*.com'] }] }, 'config: inbound[0].certificates[0].names[0]: a wildcard needs at least two labels after *. (like *.example.com)'],
    [{ certificates: [{ dir: '/c', names: ['a..b'] }] }, 'config: inbound[0].certificates[0].names[0]: expected a DNS name like www.example.com or *.example.com'],
    [{ certificates: [{ dir: '/a', names: ['x.example.com'] }, { dir: '/b', names: ['x.example.com'] }] }, 'config: inbound[0].certificates[1].names[0]: x.example.com is already served by certificates[0]'],
    [{ certificates: [{ dir: '/a' }, { dir: '/a' }] }, 'config: inbound[0].certificates[1].dir: already used by certificates[0]'],
    [{ certificates: [{ dir: '/a', extra: 1 }] }, 'config: inbound[0].certificates[0].extra: unknown field'],
    [{ defaultCertificate: 'www.example.com' }, 'config: inbound[0].defaultCertificate: needs certificates or acme'],
    [{ strictSni: true }, 'config: inbound[0].strictSni: needs certificates or acme'],
    [{ tlsPolicy: { minVersion: '1.1' } }, 'config: inbound[0].tlsPolicy.minVersion: expected one of 1.2, 1.3'],
    [{ tlsPolicy: { ciphers: ['ECDHE-RSA-AES128-GCM-SHA256', 'NOPE-CIPHER'] } }, 'config: inbound[0].tlsPolicy.ciphers[1]: unknown cipher suite NOPE-CIPHER (OpenSSL or IANA TLS 1.3 names, e.g. ECDHE-RSA-AES128-GCM-SHA256)'],
    [{ tlsPolicy: { curves: ['P-256', 'P-256'] } }, 'config: inbound[0].tlsPolicy.curves[1]: curve P-256 is listed twice'],
    [{ tlsPolicy: { curves: ['brainpool'] } }, 'config: inbound[0].tlsPolicy.curves[0]: unknown curve brainpool (expected one of X25519, X448, P-256, P-384, P-521, prime256v1, secp384r1, secp521r1)'],
    [{ hsts: { maxAge: -1 } }, 'config: inbound[0].hsts.maxAge: expected seconds >= 0'],
    [{ hsts: { maxAge: 600, preload: true } }, 'config: inbound[0].hsts.preload: the preload list needs maxAge >= 31536000 and includeSubDomains: true'],
    [{ redirect: { listen: 'nope' } }, 'config: inbound[0].redirect.listen: expected host:port'],
    [{ redirect: { listen: '0.0.0.0:80', httpsPort: 0 } }, 'config: inbound[0].redirect.httpsPort: expected a port 1-65535'],
    [{ acme: { directory: 'https://a/dir', names: ['a.example.com'], storageDir: '/s' } }, 'config: inbound[0].acme: needs redirect: HTTP-01 challenges are answered on the redirect listener'],
    [{ redirect: { listen: '0.0.0.0:80' }, acme: { directory: 'http://a/dir', names: ['a.example.com'], storageDir: '/s' } }, 'config: inbound[0].acme.directory: expected an https:// URL (RFC 8555)'],
    [{ redirect: { listen: '0.0.0.0:80' }, acme: { directory: 'https://a/dir', names: ['*.example.com'], storageDir: '/s' } }, 'config: inbound[0].acme.names[0]: wildcards cannot be validated with HTTP-01 (use certificates from cert-manager with DNS-01)'],
    [{ redirect: { listen: '0.0.0.0:80' }, acme: { directory: 'https://a/dir', names: ['a.example.com'], storageDir: '/s', email: 'nope' } }, 'config: inbound[0].acme.email: expected an email address'],
    [{ redirect: { listen: '0.0.0.0:80' }, acme: { directory: 'https://a/dir', names: [], storageDir: '/s' } }, 'config: inbound[0].acme.names: expected at least one name'],
    [{ redirect: { listen: '0.0.0.0:80' }, acme: { directory: 'https://a/dir', names: ['a.example.com'] } }, 'config: inbound[0].acme.storageDir: required (string)'],
  ])('%j -> %s', (l, message) => expect(errorOf(l)).toBe(message));
});

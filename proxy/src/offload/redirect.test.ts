import { describe, expect, it } from 'vitest';
import { redirectLocation } from './redirect.js';
import { hstsValue } from './hsts.js';
import { offloadHandshakeReason, NoCertificateError, UnknownServerNameError } from './handshake-reason.js';

describe('redirectLocation', () => {
  it.each([
    ['www.example.com', '/', 443, 'https://www.example.com/'],
    ['www.example.com:80', '/a/b?c=d&e', 443, 'https://www.example.com/a/b?c=d&e'],
    ['WWW.Example.com.', '/x', 8443, 'https://www.example.com:8443/x'],
    ['10.0.0.7:8080', '/', 443, 'https://10.0.0.7/'],
    ['[2001:db8::1]:80', '/v6', 443, 'https://[2001:db8::1]/v6'],
    ['www.example.com', 'http://www.example.com/abs?q=1', 443, 'https://www.example.com/abs?q=1'],
    ['www.example.com', '//evil.example.net/x', 443, 'https://www.example.com/evil.example.net/x'],
  ])('Host %s, %s, port %s -> %s', (host, url, port, location) => expect(redirectLocation(host, url, port)).toBe(location));

  it.each([
    [undefined],
    [''],
    ['evil.example.net/x'],
    ['a b'],
    ['user@host'],
    ['[not-v6]'],
    ['www.example.com:80:80'],
    ['-bad.example.com'],
  ])('refuses Host %s', (host) => expect(redirectLocation(host, '/', 443)).toBeUndefined());
});

describe('hstsValue', () => {
  it.each([
    [{ maxAge: 31536000, includeSubDomains: false, preload: false }, 'max-age=31536000'],
    [{ maxAge: 600, includeSubDomains: true, preload: false }, 'max-age=600; includeSubDomains'],
    [{ maxAge: 63072000, includeSubDomains: true, preload: true }, 'max-age=63072000; includeSubDomains; preload'],
    [{ maxAge: 0, includeSubDomains: false, preload: false }, 'max-age=0'],
  ])('%j -> %s', (cfg, value) => expect(hstsValue(cfg)).toBe(value));
});

describe('offloadHandshakeReason', () => {
  const e = (code: string) => Object.assign(new Error(code), { code });
  it.each([
    [e('ERR_SSL_UNSUPPORTED_PROTOCOL'), 'version'],
    [e('ERR_SSL_NO_SHARED_CIPHER'), 'cipher'],
    [e('ERR_SSL_NO_SUITABLE_KEY_SHARE'), 'curve'],
    [e('ERR_SSL_HTTP_REQUEST'), 'not_tls'],
    [e('ERR_SSL_WRONG_VERSION_NUMBER'), 'not_tls'],
    [e('ERR_SSL_TLSV1_ALERT_UNKNOWN_CA'), 'cert_rejected'],
    [e('ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE'), 'cert_rejected'],
    [e('ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED'), 'cert_rejected'],
    [e('ERR_TLS_HANDSHAKE_TIMEOUT'), 'timeout'],
    [e('ECONNRESET'), 'reset'],
    [e('ERR_SSL_SOMETHING_ELSE'), 'protocol'],
    [new UnknownServerNameError(), 'unknown_name'],
    [new NoCertificateError('www.example.com'), 'no_certificate'],
  ])('%s -> %s', (err, reason) => expect(offloadHandshakeReason(err)).toBe(reason));
});

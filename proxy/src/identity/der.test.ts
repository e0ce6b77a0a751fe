import { describe, expect, it } from 'vitest';
import { children, contentOf, encode, generalizedTime, oid, read, seq, utcTime } from './der.js';

describe('DER', () => {
  it.each([0, 1, 127, 128, 255, 256, 70_000])('round-trips a %i-byte OCTET STRING', (n) => {
    const der = encode(0x04, Buffer.alloc(n, 7));
    const t = read(der);
    expect(t.tag).toBe(0x04);
    expect(t.end).toBe(der.length);
    expect(contentOf(der, t)).toEqual(Buffer.alloc(n, 7));
  });

  it('lists the children of a SEQUENCE', () => {
    const der = seq(encode(0x02, Buffer.from([1])), encode(0x05, Buffer.alloc(0)), seq());
    expect(children(der, read(der)).map((c) => c.tag)).toEqual([0x02, 0x05, 0x30]);
  });

  it.each([
    [Buffer.from([0x30]), 'DER: truncated'],
    [Buffer.from([0x30, 0x05, 0x01]), 'DER: truncated'],
    [Buffer.from([0x30, 0x80]), 'DER: bad length'],
    [Buffer.from([0x1f, 0x01, 0x00]), 'DER: multi-byte tags are not supported'],
  ])('refuses %s', (der, message) => expect(() => read(der)).toThrow(message));

  it.each([
    ['20261129120000Z', Date.UTC(2026, 10, 29, 12, 0, 0)],
    ['20261129120000.5Z', Date.UTC(2026, 10, 29, 12, 0, 0, 500)],
  ])('GeneralizedTime %s', (text, ms) => expect(generalizedTime(text)).toBe(ms));

  it.each([
    ['261129120000Z', Date.UTC(2026, 10, 29, 12, 0, 0)],
    ['491231235959Z', Date.UTC(2049, 11, 31, 23, 59, 59)],
    ['500101000000Z', Date.UTC(1950, 0, 1, 0, 0, 0)],
  ])('UTCTime %s', (text, ms) => expect(utcTime(text)).toBe(ms));

  it.each([
    ['2a864886f70d01090e', '1.2.840.113549.1.9.14'],
    ['551d11', '2.5.29.17'],
    ['2b0601050507030102', '1.3.6.1.5.5.7.3.1.2'],
    ['8837', '2.999'],
  ])('OID %s is %s', (hex, dotted) => expect(oid(Buffer.from(hex, 'hex'))).toBe(dotted));

  it('refuses a GeneralizedTime without Z', () => expect(() => generalizedTime('20261129120000')).toThrow('bad GeneralizedTime'));
});

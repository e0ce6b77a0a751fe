import { describe, expect, it } from 'vitest';
import { children, contentOf, encode, generalizedTime, read, seq } from './der.js';

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

  it('refuses a GeneralizedTime without Z', () => expect(() => generalizedTime('20261129120000')).toThrow('bad GeneralizedTime'));
});

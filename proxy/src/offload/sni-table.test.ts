import { describe, expect, it } from 'vitest';
import { certificateCovers, normalizeServerName, sanCovers, wildcardFor } from './names.js';
import { buildSniTable, lookupServerName, NO_SNI, UNKNOWN_NAME, type SniEntry } from './sni-table.js';
import type { ServerCertificate } from './webpki.js';

const entry = (source: string, names: string[]): SniEntry<string> => ({ source, cert: { names } as unknown as ServerCertificate, context: source });

describe('server names', () => {
  it.each([
    ['WWW.Example.COM.', 'www.example.com'],
    ['a.b', 'a.b'],
    ['', undefined],
    [undefined, undefined],
    [false, undefined],
  ] as const)('normalize %s -> %s', (input, out) => expect(normalizeServerName(input)).toBe(out));

  it.each([
    ['a.example.com', '*.example.com'],
    ['a.b.example.com', '*.b.example.com'],
    ['example.com', undefined],
    ['localhost', undefined],
  ])('wildcardFor %s -> %s', (name, w) => expect(wildcardFor(name)).toBe(w));

  it.each([
    ['*.example.com', 'a.example.com', true],
    ['*.example.com', 'example.com', false],
    ['*.example.com', 'a.b.example.com', false],
    ['WWW.example.com', 'www.example.com', true],
    ['www.example.com', '*.example.com', false],
  ])('SAN %s covers %s: %s', (san, name, covers) => expect(sanCovers(san, name)).toBe(covers));

  it('a configured wildcard needs the same wildcard SAN', () => {
    expect(certificateCovers(['*.example.com'], '*.example.com')).toBe(true);
    expect(certificateCovers(['a.example.com'], '*.example.com')).toBe(false);
  });
});

describe('SNI table', () => {
  const www = entry('certificates[0]', ['www.example.com', 'example.com']);
  const wild = entry('certificates[1]', ['*.example.com', 'www.example.com']);
  const other = entry('certificates[2]', ['default.example.org']);
  const { table, shadowed } = buildSniTable([www, wild, other], 'default.example.org');

  it.each([
    ['www.example.com', 'certificates[0]', 'www.example.com'],
    ['WWW.EXAMPLE.COM.', 'certificates[0]', 'www.example.com'],
    ['example.com', 'certificates[0]', 'example.com'],
    ['api.example.com', 'certificates[1]', '*.example.com'],
    ['a.api.example.com', undefined, UNKNOWN_NAME],
    ['example.org', undefined, UNKNOWN_NAME],
    ['default.example.org', 'certificates[2]', 'default.example.org'],
  ])('%s -> %s labelled %s', (sni, source, label) => {
    const m = lookupServerName(table, sni);
    expect(m.entry?.source).toBe(source);
    expect(m.label).toBe(label);
  });

  it('no SNI gets the default certificate, labelled (none)', () => {
    expect(lookupServerName(table, undefined)).toEqual({ entry: other, label: NO_SNI });
  });

  it('exact names win over wildcards; the earlier certificate keeps a name both carry', () => {
    expect(shadowed).toEqual(['www.example.com (certificates[1]; served by certificates[0])']);
    expect([...table.names.keys()]).toEqual(['www.example.com', 'example.com', '*.example.com', 'default.example.org']);
  });

  it('the default is the first certificate when none is named, and a wildcard name can be the default', () => {
    expect(buildSniTable([wild, other]).table.fallback).toBe(wild);
    expect(buildSniTable([other, wild], 'x.example.com').table.fallback).toBe(wild);
    expect(buildSniTable([other], 'missing.example.com').table.fallback).toBeUndefined();
  });
});

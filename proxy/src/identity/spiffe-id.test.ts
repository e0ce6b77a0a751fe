import { describe, expect, it } from 'vitest';
import { IdMatcher, SpiffeId, patternProblem, spiffeIdProblem } from './spiffe-id.js';

describe('spiffeIdProblem', () => {
  it.each([
    ['spiffe://cluster.local/ns/default/sa/frontend', undefined],
    ['spiffe://cluster.local', undefined],
    ['spiffe://td/a.b-c_d', undefined],
    ['SPIFFE://cluster.local/x', 'scheme must be spiffe://'],
    ['https://cluster.local/x', 'scheme must be spiffe://'],
    ['spiffe:///x', 'trust domain is empty'],
    ['spiffe://Cluster.local/x', 'trust domain may hold only a-z 0-9 . - _ (no port, user info or upper case)'],
    ['spiffe://td:443/x', 'trust domain may hold only a-z 0-9 . - _ (no port, user info or upper case)'],
    ['spiffe://user@td/x', 'trust domain may hold only a-z 0-9 . - _ (no port, user info or upper case)'],
    ['spiffe://td/', 'path must not end with /'],
    ['spiffe://td/a/', 'path has an empty segment or a trailing /'],
    ['spiffe://td/a//b', 'path has an empty segment or a trailing /'],
    ['spiffe://td/a/../b', 'path has a . or .. segment'],
    ['spiffe://td/a?x=1', 'path may hold only A-Z a-z 0-9 . - _ (no query or fragment)'],
    ['spiffe://td/a#f', 'path may hold only A-Z a-z 0-9 . - _ (no query or fragment)'],
  ])('%s -> %s', (id, problem) => {
    expect(spiffeIdProblem(id)).toBe(problem);
  });

  it('parses into trust domain and path', () => {
    const id = SpiffeId.parse('spiffe://cluster.local/ns/default/sa/frontend');
    expect(id.trustDomain).toBe('cluster.local');
    expect(id.path).toBe('/ns/default/sa/frontend');
    expect(id.toString()).toBe('spiffe://cluster.local/ns/default/sa/frontend');
    expect(SpiffeId.ofServiceAccount('td', 'ns1', 'sa1').toString()).toBe('spiffe://td/ns/ns1/sa/sa1');
    expect(() => SpiffeId.parse('spiffe://td/a//b')).toThrow(/empty segment/);
  });
});

describe('IdMatcher', () => {
  const m = IdMatcher.compile(['spiffe://cluster.local/ns/default/sa/frontend', 'spiffe://cluster.local/ns/monitoring/*']);

  it.each([
    ['spiffe://cluster.local/ns/default/sa/frontend', true],
    ['spiffe://cluster.local/ns/default/sa/frontend2', false],
    ['spiffe://cluster.local/ns/default/sa', false],
    ['spiffe://cluster.local/ns/monitoring/sa/prometheus', true],
    ['spiffe://cluster.local/ns/monitoring/x', true],
    ['spiffe://cluster.local/ns/monitoring', false],
    ['spiffe://cluster.local/ns/monitoringx/sa/prometheus', false],
    ['spiffe://cluster.local/ns/monitoringx', false],
    ['spiffe://other.local/ns/monitoring/sa/prometheus', false],
  ])('%s -> %s', (id, ok) => {
    expect(m.matches(id)).toBe(ok);
  });

  it('an empty list matches nothing (fail closed)', () => {
    const empty = IdMatcher.compile([]);
    expect(empty.empty).toBe(true);
    expect(empty.matches('spiffe://cluster.local/ns/default/sa/frontend')).toBe(false);
  });

  it.each([
    ['spiffe://td/ns/*', undefined],
    ['spiffe://td/*', undefined],
    ['spiffe://td/ns/*/sa/x', 'a wildcard may only be a trailing /*'],
    ['spiffe://td/ns*', 'a wildcard may only be a trailing /*'],
    ['spiffe://td//*', 'path must not end with /'],
  ])('pattern %s -> %s', (p, problem) => {
    expect(patternProblem(p)).toBe(problem);
  });
});

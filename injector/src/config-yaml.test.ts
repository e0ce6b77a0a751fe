import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { scalar, toYaml } from './config-yaml.js';

const TRICKY = [
  '', ' ', 'true', 'True', 'yes', 'no', 'on', 'OFF', 'y', 'n', 'null', '~', '<<', '=',
  '1', '-1', '+1', '0644', '0o17', '0x1F', '0b101', '1_000', '1.5', '.5', '1e3', '1.2e-3', '.inf', '-.Inf', '.NaN',
  '1:30', '190:20:30', '1:30.5', '0.0.0.0', '0.0.0.0:15020', '[::1]:80', '10.0.0.0/8', 'fd00::/8',
  'spiffe://cluster.local/ns/a/*', 'http://127.0.0.1:9090/metrics?x=1', 'sha256/Cgv5VxyrqHGD1SvBo0AaGv94LtMyvE+Dz3pFU3U3qLQ=',
  '/healthz', '- x', '-x', ': x', 'a: b', 'a #b', '#x', '&a', '*a', '!x', '|', '>', '"q"', "'q'", '%x', '@x', '`x', '{a}', '[a]', 'a,b',
  'line\nbreak', 'tab\there', 'ünïcode', 'end ', 'x'.repeat(300),
];

describe('toYaml', () => {
  it.each(TRICKY)('%j reads back as the same string in YAML 1.2 and 1.1', (s) => {
    const text = toYaml({ k: s, list: [s], [s || 'empty']: 1 });
    for (const version of ['1.2', '1.1'] as const) expect(parse(text, { version })).toEqual({ k: s, list: [s], [s || 'empty']: 1 });
  });

  it('writes what the yaml library writes for config-shaped data (it quotes more: y, n, 1:30 are YAML 1.1 values)', () => {
    const config = {
      trustDomain: 'cluster.local',
      drainSeconds: 5,
      identity: { dir: '/var/run/secrets/tlsmesh' },
      admin: { listen: '0.0.0.0:15020', appProbes: { 'app/livez': { httpGet: { port: 8080, path: '/', scheme: 'HTTP', httpHeaders: [{ name: 'X', value: 'v' }] }, timeoutSeconds: 1.5 } } },
      inbound: [{ name: 'inbound', allow: ['spiffe://td/ns/a/*'], tls: 'mutual' }],
      outbound: [{ name: 'outbound', meshNetworks: [], flag: true, none: null }],
      empty: {},
    };
    expect(toYaml(config)).toBe(stringify(config, { lineWidth: 0 }));
  });

  it('quotes only when needed', () => {
    expect([scalar('mutual'), scalar('8080'), scalar('on'), scalar(8080), scalar(true)]).toEqual(['mutual', '"8080"', '"on"', '8080', 'true']);
  });
});

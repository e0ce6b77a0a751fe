import { describe, expect, it } from 'vitest';
import { captureOptions } from './options.js';
import { buildRules } from './rules.js';

describe('buildRules', () => {
  it('writes the default set for IPv4', () => {
    const set = buildRules(captureOptions({}), 4);
    expect(set.chains).toEqual(['TLSMESH_INBOUND', 'TLSMESH_IN_REDIRECT', 'TLSMESH_OUTPUT', 'TLSMESH_REDIRECT']);
    expect(set.rules).toEqual([
      '-A TLSMESH_INBOUND -p tcp -m tcp --dport 15020 -j RETURN',
      '-A TLSMESH_INBOUND -p tcp -j TLSMESH_IN_REDIRECT',
      '-A TLSMESH_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006',
      '-A TLSMESH_OUTPUT -m owner --uid-owner 1337 -j RETURN',
      '-A TLSMESH_OUTPUT -o lo -j RETURN',
      '-A TLSMESH_OUTPUT -j TLSMESH_REDIRECT',
      '-A TLSMESH_REDIRECT -p tcp -j REDIRECT --to-ports 15001',
    ]);
    expect(set.jumps).toEqual(['-A PREROUTING -p tcp -j TLSMESH_INBOUND', '-A OUTPUT -p tcp -j TLSMESH_OUTPUT']);
  });

  it('honours every flag, and puts each CIDR in its own family', () => {
    const options = captureOptions({
      'inbound-port': '7006',
      'outbound-port': '7001',
      'proxy-uid': '2000',
      'inbound-ports': '8080,15020,9090',
      'exclude-inbound-ports': '9090',
      'exclude-outbound-ports': '53,3306',
      'exclude-outbound-cidrs': '169.254.169.254/32,fd00::/8',
    });
    const own = (family: 4 | 6) => [
      '-A TLSMESH_INBOUND -p tcp -m tcp --dport 15020 -j RETURN',
      '-A TLSMESH_INBOUND -p tcp -m tcp --dport 9090 -j RETURN',
      '-A TLSMESH_INBOUND -p tcp -m tcp --dport 8080 -j TLSMESH_IN_REDIRECT',
      '-A TLSMESH_IN_REDIRECT -p tcp -j REDIRECT --to-ports 7006',
      '-A TLSMESH_OUTPUT -m owner --uid-owner 2000 -j RETURN',
      '-A TLSMESH_OUTPUT -o lo -j RETURN',
      '-A TLSMESH_OUTPUT -p tcp -m tcp --dport 53 -j RETURN',
      '-A TLSMESH_OUTPUT -p tcp -m tcp --dport 3306 -j RETURN',
      family === 4 ? '-A TLSMESH_OUTPUT -d 169.254.169.254/32 -j RETURN' : '-A TLSMESH_OUTPUT -d fd00::/8 -j RETURN',
      '-A TLSMESH_OUTPUT -j TLSMESH_REDIRECT',
      '-A TLSMESH_REDIRECT -p tcp -j REDIRECT --to-ports 7001',
    ];
    expect(buildRules(options, 4).rules).toEqual(own(4));
    expect(buildRules(options, 6).rules).toEqual(own(6));
  });

  it('checks the proxy uid before anything else in OUTPUT (its own traffic is never captured)', () => {
    const rules = buildRules(captureOptions({ 'exclude-outbound-ports': '80' }), 4).rules.filter((r) => r.startsWith('-A TLSMESH_OUTPUT'));
    expect(rules[0]).toBe('-A TLSMESH_OUTPUT -m owner --uid-owner 1337 -j RETURN');
    expect(rules.at(-1)).toBe('-A TLSMESH_OUTPUT -j TLSMESH_REDIRECT');
  });
});

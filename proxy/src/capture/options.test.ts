import { describe, expect, it } from 'vitest';
import { UsageError } from '../errors.js';
import { canonicalCidr, captureOptions, formatV6 } from './options.js';
import { ipv6ToBigInt } from '../config/fields.js';

describe('captureOptions', () => {
  it('has the contract defaults', () => {
    expect(captureOptions({})).toEqual({
      inboundPort: 15006,
      outboundPort: 15001,
      proxyUid: 1337,
      inboundPorts: 'all',
      excludeInboundPorts: [15020],
      excludeOutboundPorts: [],
      excludeOutboundCidrs: [],
    });
  });

  it('parses lists, drops duplicates, keeps the admin port excluded, normalises CIDRs', () => {
    const o = captureOptions({
      'inbound-port': '16006',
      'outbound-port': '16001',
      'proxy-uid': '0',
      'inbound-ports': '8080, 9090,8080',
      'exclude-inbound-ports': '22,15020',
      'exclude-outbound-ports': '',
      'exclude-outbound-cidrs': '10.1.2.3/8,10.0.0.0/8,169.254.169.254,2001:db8::1/32',
    });
    expect(o).toEqual({
      inboundPort: 16006,
      outboundPort: 16001,
      proxyUid: 0,
      inboundPorts: [8080, 9090],
      excludeInboundPorts: [15020, 22],
      excludeOutboundPorts: [],
      excludeOutboundCidrs: [
        { family: 4, text: '10.0.0.0/8' },
        { family: 4, text: '169.254.169.254/32' },
        { family: 6, text: '2001:db8::/32' },
      ],
    });
    expect(Object.isFrozen(o)).toBe(true);
  });

  it.each([
    { flag: 'inbound-port', value: '0', message: 'init: --inbound-port: expected a port 1-65535, got "0"' },
    { flag: 'outbound-port', value: '65536', message: 'init: --outbound-port: expected a port 1-65535, got "65536"' },
    { flag: 'proxy-uid', value: 'istio', message: 'init: --proxy-uid: expected a numeric uid, got "istio"' },
    { flag: 'inbound-ports', value: '', message: 'init: --inbound-ports: expected all or a comma-separated list of ports' },
    { flag: 'inbound-ports', value: '80,http', message: 'init: --inbound-ports: expected a port 1-65535, got "http"' },
    { flag: 'exclude-inbound-ports', value: '22-25', message: 'init: --exclude-inbound-ports: expected a port 1-65535, got "22-25"' },
    { flag: 'exclude-outbound-ports', value: '-1', message: 'init: --exclude-outbound-ports: expected a port 1-65535, got "-1"' },
    { flag: 'exclude-outbound-cidrs', value: '10.0.0.0/33', message: 'init: --exclude-outbound-cidrs: expected a CIDR like 10.0.0.0/8, got "10.0.0.0/33"' },
    { flag: 'exclude-outbound-cidrs', value: 'example.com', message: 'init: --exclude-outbound-cidrs: expected a CIDR like 10.0.0.0/8, got "example.com"' },
  ])('--$flag $value: $message', ({ flag, value, message }) => {
    let caught: unknown;
    try {
      captureOptions({ [flag]: value });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(UsageError);
    expect((caught as UsageError).message).toBe(message);
  });
});

describe('canonicalCidr / formatV6 (the text iptables-save prints)', () => {
  it.each([
    ['::', '::'],
    ['::1', '::1'],
    ['2001:db8::', '2001:db8::'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:db8:0:0:1::', '2001:db8:0:0:1::'],
    ['1:0:1:0:1:0:1:0', '1:0:1:0:1:0:1:0'],
    ['::ffff:1.2.3.4', '::ffff:1.2.3.4'],
    ['FD00:0000::0001', 'fd00::1'],
  ])('%s -> %s', (input, output) => {
    expect(formatV6(ipv6ToBigInt(input))).toBe(output);
  });

  it.each([
    ['10.1.2.3/8', '10.0.0.0/8'],
    ['198.18.0.3', '198.18.0.3/32'],
    ['0.0.0.0/0', '0.0.0.0/0'],
    ['fd00::1/8', 'fd00::/8'],
    ['fd00::1', 'fd00::1/128'],
  ])('%s -> %s', (input, output) => {
    expect(canonicalCidr(input)?.text).toBe(output);
  });
});

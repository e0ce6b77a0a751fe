// Which original destinations belong to the mesh (and get mTLS).
import { isIPv4, isIPv6 } from 'node:net';
import { ipv6ToBigInt } from '../config/fields.js';

export interface Cidr {
  family: 4 | 6;
  base: bigint;
  bits: number;
}

function toBigInt(address: string): { family: 4 | 6; value: bigint } | undefined {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  const a = mapped ? mapped[1]! : address;
  if (isIPv4(a)) return { family: 4, value: a.split('.').reduce((acc, o) => (acc << 8n) | BigInt(Number(o)), 0n) };
  if (isIPv6(a)) return { family: 6, value: ipv6ToBigInt(a) };
  return undefined;
}

export function cidrMatcher(cidrs: readonly Cidr[]): (address: string) => boolean {
  return (address) => {
    const ip = toBigInt(address);
    if (!ip) return false;
    const width = ip.family === 4 ? 32n : 128n;
    return cidrs.some((c) => {
      if (c.family !== ip.family) return false;
      const shift = width - BigInt(c.bits);
      return ip.value >> shift === c.base >> shift;
    });
  };
}

// The facts the checks need of one certificate, read straight from its DER
// (RFC 5280): SANs, basic constraints, key usage, extended key usage, validity,
// serial, subject and issuer. It replaces @peculiar/x509 on the proxy's path:
// that library took ~30% of the sidecar's CPU up to ready just to load
// (asn1js, tsyringe, the @peculiar/asn1-* schemas). The results equal
// @peculiar/x509's, names formatted as its Name.toString() does
// (cert-der.test.ts compares the two).
import { children, contentOf, oid, read, utcTime, generalizedTime, type Tlv } from './der.js';

export interface DerFacts {
  uris: string[];
  dnsNames: string[];
  isCa: boolean;
  keyUsage: number | undefined;
  extKeyUsage: string[] | undefined;
  notBefore: number;
  notAfter: number;
  serialNumber: string;
  subject: string;
  issuer: string;
}

const SAN = '2.5.29.17';
const BASIC_CONSTRAINTS = '2.5.29.19';
const KEY_USAGE = '2.5.29.15';
const EXT_KEY_USAGE = '2.5.29.37';

/** Attribute short names, as @peculiar/x509 prints them; other types print as their OID. */
const NAMES: Record<string, string> = {
  '2.5.4.3': 'CN', '2.5.4.7': 'L', '2.5.4.8': 'ST', '2.5.4.10': 'O', '2.5.4.11': 'OU', '2.5.4.6': 'C',
  '0.9.2342.19200300.100.1.25': 'DC', '1.2.840.113549.1.9.1': 'E', '2.5.4.42': 'G', '2.5.4.43': 'I', '2.5.4.4': 'SN', '2.5.4.12': 'T',
};

export function derFacts(der: Buffer): DerFacts {
  const cert = read(der);
  const [tbs] = children(der, cert);
  if (cert.tag !== 0x30 || tbs?.tag !== 0x30) throw new Error('certificate: not a SEQUENCE');
  const f = children(der, tbs);
  const at = f[0]?.tag === 0xa0 ? 1 : 0; // [0] version, absent for v1
  const [serial, , issuer, validity, subject] = f.slice(at, at + 5);
  if (!serial || !issuer || !validity || !subject) throw new Error('certificate: TBSCertificate too short');
  const [notBefore, notAfter] = children(der, validity).map((t) => time(der, t));
  const facts: DerFacts = {
    uris: [], dnsNames: [], isCa: false, keyUsage: undefined, extKeyUsage: undefined,
    notBefore: notBefore!, notAfter: notAfter!,
    serialNumber: serialHex(contentOf(der, serial)),
    subject: nameString(der, subject),
    issuer: nameString(der, issuer),
  };
  const extensions = f.find((t) => t.tag === 0xa3);
  const seen = new Set<string>();
  for (const ext of extensions ? children(der, children(der, extensions)[0]!) : []) {
    const parts = children(der, ext);
    const id = oid(contentOf(der, parts[0]!));
    // The first of a repeated extension counts, as with @peculiar/x509's getExtension.
    if (seen.has(id)) continue;
    seen.add(id);
    const value = contentOf(der, parts.at(-1)!);
    if (id === SAN) {
      for (const n of children(value, read(value))) {
        if (n.tag === 0x86) facts.uris.push(contentOf(value, n).toString('latin1'));
        else if (n.tag === 0x82) facts.dnsNames.push(contentOf(value, n).toString('latin1'));
      }
    } else if (id === BASIC_CONSTRAINTS) {
      const first = children(value, read(value))[0];
      facts.isCa = first?.tag === 0x01 && value[first.contentStart] !== 0;
    } else if (id === KEY_USAGE) {
      facts.keyUsage = bitFlags(contentOf(value, read(value)));
    } else if (id === EXT_KEY_USAGE) {
      facts.extKeyUsage = children(value, read(value)).map((t) => oid(contentOf(value, t)));
    }
  }
  return facts;
}

/** Hex of the INTEGER's bytes, without the sign byte a high first bit needs. */
function serialHex(c: Buffer): string {
  return (c.length > 1 && c[0] === 0 && c[1]! > 0x7f ? c.subarray(1) : c).toString('hex');
}

function time(der: Buffer, t: Tlv): number {
  const text = contentOf(der, t).toString('latin1');
  if (t.tag === 0x17) return utcTime(text);
  if (t.tag === 0x18) return generalizedTime(text);
  throw new Error(`certificate: validity: unexpected tag ${t.tag}`);
}

/** A BIT STRING as KeyUsageFlags: the first named bit is 1, the next 2, and so on. */
function bitFlags(content: Buffer): number {
  const unused = content[0] ?? 0;
  const bits = (content.length - 1) * 8 - unused;
  let flags = 0;
  for (let i = 0; i < bits; i++) if (content[1 + (i >> 3)]! & (0x80 >> (i & 7))) flags += 2 ** i;
  return flags;
}

/** RDNs in DER order, `, ` between them and `+` inside one, RFC 4514-like escaping. */
function nameString(der: Buffer, name: Tlv): string {
  return children(der, name)
    .map((rdn) =>
      children(der, rdn)
        .map((atv) => {
          const [type, value] = children(der, atv);
          const id = oid(contentOf(der, type!));
          const text = attributeText(der, value!);
          return `${NAMES[id] ?? id}=${text === undefined ? `#${der.subarray(value!.start, value!.end).toString('hex')}` : escape(text)}`;
        })
        .join('+'),
    )
    .join(', ');
}

/** The string types a name attribute may hold; undefined for any other (printed as #hex of its DER). */
function attributeText(der: Buffer, t: Tlv): string | undefined {
  const c = contentOf(der, t);
  switch (t.tag) {
    case 0x0c: // UTF8String
      return c.toString('utf8');
    case 0x13: // PrintableString
    case 0x14: // TeletexString
    case 0x16: // IA5String
      return c.toString('latin1');
    case 0x1e: // BMPString (UTF-16BE)
      return Buffer.from(c).swap16().toString('utf16le');
    case 0x1c: // UniversalString (UTF-32BE)
      return String.fromCodePoint(...Array.from({ length: c.length >> 2 }, (_, i) => c.readUInt32BE(i * 4)));
    default:
      return undefined;
  }
}

function escape(text: string): string {
  return text
    .replace(/([,+"\\<>;])/g, '\\$1')
    .replace(/^([ #])/, '\\$1')
    .replace(/([ ]$)/, '\\$1')
    .replace(/([\r\n\t])/, (ch) => `\\${Buffer.from(ch, 'utf8').toString('hex').toUpperCase()}`);
}

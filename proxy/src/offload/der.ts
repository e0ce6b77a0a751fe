// The little DER an OCSP client needs: write a TLV, read one, list the
// children of a constructed one. Enough for RFC 6960 requests and responses;
// not a general ASN.1 library.

export interface Tlv {
  tag: number;
  /** Offsets into the buffer: the whole element, and its contents. */
  start: number;
  contentStart: number;
  end: number;
}

export function encode(tag: number, content: Buffer): Buffer {
  const n = content.length;
  let len: Buffer;
  if (n < 0x80) len = Buffer.from([n]);
  else {
    const bytes: number[] = [];
    for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
    len = Buffer.from([0x80 | bytes.length, ...bytes]);
  }
  return Buffer.concat([Buffer.from([tag]), len, content]);
}

export const seq = (...parts: Buffer[]) => encode(0x30, Buffer.concat(parts));

export function read(buf: Buffer, at = 0, limit = buf.length): Tlv {
  if (at + 2 > limit) throw new Error('DER: truncated');
  const tag = buf[at]!;
  if ((tag & 0x1f) === 0x1f) throw new Error('DER: multi-byte tags are not supported');
  let len = buf[at + 1]!;
  let contentStart = at + 2;
  if (len & 0x80) {
    const count = len & 0x7f;
    if (count === 0 || count > 4 || contentStart + count > limit) throw new Error('DER: bad length');
    len = 0;
    for (let i = 0; i < count; i++) len = len * 256 + buf[contentStart + i]!;
    contentStart += count;
  }
  const end = contentStart + len;
  if (end > limit) throw new Error('DER: truncated');
  return { tag, start: at, contentStart, end };
}

export function children(buf: Buffer, node: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let at = node.contentStart; at < node.end; ) {
    const c = read(buf, at, node.end);
    out.push(c);
    at = c.end;
  }
  return out;
}

export const bytesOf = (buf: Buffer, t: Tlv) => buf.subarray(t.start, t.end);
export const contentOf = (buf: Buffer, t: Tlv) => buf.subarray(t.contentStart, t.end);

/** GeneralizedTime (YYYYMMDDHHMMSS[.fff]Z) to milliseconds. */
export function generalizedTime(text: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.(\d+))?Z$/.exec(text);
  if (!m) throw new Error(`DER: bad GeneralizedTime ${text}`);
  const ms = m[7] ? Math.round(Number(`0.${m[7]}`) * 1000) : 0;
  return Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]), ms);
}

// Peeks at the first bytes a client sent, before any TLS handshake: does its
// ClientHello offer a given ALPN protocol? Runs once per accepted connection on
// untrusted input, so every length is bounds-checked against the enclosing
// structure, and anything cut short or malformed gives undefined, not a throw.

const HANDSHAKE_RECORD = 0x16;
const CLIENT_HELLO = 0x01;
const EXT_ALPN = 0x0010;

// The protocol name as bytes, for the last protocol asked about (callers ask
// about a constant, so this is one Buffer per process).
/** The protocol names asked about, as bytes (a handful: the listeners' ALPN ids). */
const names = new Map<string, Buffer>();

function nameOf(protocol: string): Buffer {
  let b = names.get(protocol);
  if (!b) {
    b = Buffer.from(protocol, 'latin1');
    if (names.size < 16) names.set(protocol, b);
  }
  return b;
}

/** The largest TLS record a peer may send (2^14 bytes of plaintext plus expansion, RFC 8446 5.2). */
const MAX_RECORD = (1 << 14) + 256;

/**
 * More bytes are needed before `head` holds the whole first record: it starts
 * like a TLS handshake record (or is too short to tell) and that record is not
 * complete yet. A ClientHello with large key shares (post-quantum hybrids)
 * can arrive in more than one TCP segment.
 */
export function firstRecordIncomplete(head: Buffer): boolean {
  if (head.length === 0) return true;
  if (head[0] !== HANDSHAKE_RECORD) return false;
  if (head.length < 5) return true;
  const length = u16(head, 3);
  return length <= MAX_RECORD && head.length < 5 + length;
}

/**
 * Whether the TLS ClientHello at the start of `chunk` (the first bytes a client sent) offers ALPN protocol `protocol`
 * (any of them, for a list).
 * true / false when the ClientHello is complete in `chunk` and parses; undefined when `chunk` is not a TLS handshake record,
 * is cut short (ClientHello continues past the chunk or spans records), or is malformed. Never throws, never reads past `chunk`.
 */
export function offersAlpn(chunk: Buffer, protocol: string | readonly string[]): boolean | undefined {
  // Record header: type, version (2), length (2); only the first record counts.
  if (chunk.length < 5 || chunk[0] !== HANDSHAKE_RECORD) return undefined;
  const recordEnd = 5 + u16(chunk, 3);
  if (recordEnd > chunk.length) return undefined;
  // Handshake header: type, length (3); the ClientHello must fit in the record.
  if (recordEnd < 9 || chunk[5] !== CLIENT_HELLO) return undefined;
  const end = 9 + ((chunk[6] << 16) | (chunk[7] << 8) | chunk[8]);
  if (end > recordEnd) return undefined;

  let p = skipVector(chunk, 9 + 2 + 32, 1, end); // legacy_version, random, session_id
  p = skipVector(chunk, p, 2, end); // cipher_suites
  p = skipVector(chunk, p, 1, end); // compression_methods
  if (p < 0) return undefined;
  if (p === end) return false; // no extensions at all (allowed before TLS 1.3)
  if (skipVector(chunk, p, 2, end) !== end) return undefined; // extensions fill the rest

  const wanted = typeof protocol === 'string' ? [nameOf(protocol)] : protocol.map(nameOf);
  let offered = false;
  for (p += 2; p < end; ) {
    const dataEnd = skipVector(chunk, p + 2, 2, end); // after type (2)
    if (dataEnd < 0) return undefined;
    if (u16(chunk, p) === EXT_ALPN) {
      const found = alpnListHas(chunk, p + 4, dataEnd, wanted);
      if (found === undefined) return undefined;
      offered ||= found;
    }
    p = dataEnd;
  }
  return offered;
}

/** ALPN extension data in chunk[p, end): a non-empty list of non-empty names, filling it. */
function alpnListHas(chunk: Buffer, p: number, end: number, wanted: readonly Buffer[]): boolean | undefined {
  if (skipVector(chunk, p, 2, end) !== end || end === p + 2) return undefined;
  let found = false;
  for (p += 2; p < end; ) {
    const next = skipVector(chunk, p, 1, end);
    if (next < 0 || next === p + 1) return undefined;
    for (const name of wanted) if (next - p - 1 === name.length && chunk.compare(name, 0, name.length, p + 1, next) === 0) found = true;
    p = next;
  }
  return found;
}

/** The offset just past the vector at `p` with a `size`-byte length prefix, or -1 if `p` is -1 or it overruns `end`. */
function skipVector(chunk: Buffer, p: number, size: 1 | 2, end: number): number {
  if (p < 0 || p + size > end) return -1;
  const next = p + size + (size === 1 ? chunk[p] : u16(chunk, p));
  return next <= end ? next : -1;
}

function u16(chunk: Buffer, p: number): number {
  return (chunk[p] << 8) | chunk[p + 1];
}

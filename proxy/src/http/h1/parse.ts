// HTTP/1.1 message framing for the forwarding engine (engine.ts): parse a
// request or response head and decide how its body is delimited (RFC 9112 §6;
// where a chunked body ends is chunked.ts). Bytes are forwarded as they
// came; only heads are ever rebuilt. Pure: no sockets, no I/O.
//
// Strict where ambiguity would let two parsers disagree (request smuggling):
// CRLF line endings only, no obs-fold, token header names, no control bytes in
// values, one Content-Length, Transfer-Encoding only with chunked last and never
// together with Content-Length.

export class H1Error extends Error {
  constructor(
    readonly status: 400 | 431 | 501 | 505 | 502,
    message: string,
  ) {
    super(message);
  }
}

/** Where a message body ends: none, after N bytes, at the chunked terminator, or when the connection closes. */
export type BodyKind = 'none' | 'length' | 'chunked' | 'close';

export interface Head {
  /**
   * Lowercased header names, raw lines (without CRLF) and trimmed values,
   * index for index. Split from the head on first use: framing needs only
   * the few headers parseHeaders picks out as it checks every line.
   */
  readonly names: readonly string[];
  readonly lines: readonly string[];
  readonly values: readonly string[];
  /** 0 for HTTP/1.0, 1 for HTTP/1.1. */
  minor: 0 | 1;
  body: BodyKind;
  /** Body length for `length`. */
  length: number;
  /** Connection header tokens, lowercased. */
  closeToken: boolean;
  keepAliveToken: boolean;
  upgradeToken: boolean;
  /** A Connection, Keep-Alive or Proxy-Connection header is present. */
  hopByHop: boolean;
}

export interface RequestHead extends Head {
  method: string;
  target: string;
  /** The request line, without CRLF. */
  line: string;
  upgrade: boolean;
}

export interface ResponseHead extends Head {
  status: number;
  line: string;
}

// RFC 9110: a header name is token characters (TOKEN_CHAR), a field value
// has no CTLs other than HTAB. All linear-time (no backtracking on
// attacker-chosen input).
const REQUEST_LINE = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+) ([^\x00-\x20\x7f]+) HTTP\/1\.([01])$/;
const RESPONSE_LINE = /^HTTP\/1\.([01]) ([1-9][0-9][0-9])(?: [^\x00-\x08\x0a-\x1f\x7f]*)?$/;
const DIGITS = /^[0-9]{1,15}$/;

/**
 * The header lines of a head from lastIndex to its end, all well-formed: a
 * name of token characters, a colon, a value without CTLs but HTAB (so no
 * CR or LF either), lines joined by CRLF. Unambiguous, so linear.
 */
const VALID_FIELDS = /[!#$%&'*+.^_`|~0-9A-Za-z-]+:[^\x00-\x08\x0a-\x1f\x7f]*(?:\r\n[!#$%&'*+.^_`|~0-9A-Za-z-]+:[^\x00-\x08\x0a-\x1f\x7f]*)*$/y;

/** Per ASCII code: 0 not a token character, 1 one, 2 an uppercase letter (one). */
const TOKEN_CHAR = new Uint8Array(128);
for (const c of "!#$%&'*+.^_`|~-0123456789abcdefghijklmnopqrstuvwxyz") TOKEN_CHAR[c.charCodeAt(0)] = 1;
for (let c = 0x41; c <= 0x5a; c++) TOKEN_CHAR[c] = 2;

interface Fields {
  names: string[];
  lines: string[];
  values: string[];
}

/** A parsed head. Request and response heads share this one shape (one hidden class for the engine). */
class ParsedHead implements RequestHead, ResponseHead {
  minor: 0 | 1;
  body: BodyKind = 'none';
  length = 0;
  closeToken = false;
  keepAliveToken = false;
  upgradeToken = false;
  hopByHop = false;
  /** An Upgrade header is present. */
  upgradeHeader = false;
  method = '';
  target = '';
  upgrade = false;
  status = 0;
  private fields: Fields | undefined;

  constructor(
    /** The head (see parseRequestHead), its header lines from `first` on, all checked. */
    private readonly text: string,
    private readonly first: number,
    readonly line: string,
    minor: 0 | 1,
  ) {
    this.minor = minor;
  }

  get names(): readonly string[] {
    return this.split().names;
  }

  get lines(): readonly string[] {
    return this.split().lines;
  }

  get values(): readonly string[] {
    return this.split().values;
  }

  private split(): Fields {
    return (this.fields ??= splitFields(this.text, this.first));
  }
}

/** The header lines of a head parseHeaders has accepted, as names, lines and values. */
function splitFields(text: string, first: number): Fields {
  const f: Fields = { names: [], lines: [], values: [] };
  let pos = first;
  while (pos < text.length) {
    let eol = text.indexOf('\r\n', pos);
    if (eol < 0) eol = text.length;
    const line = text.slice(pos, eol);
    const colon = line.indexOf(':');
    f.names.push(line.slice(0, colon).toLowerCase());
    f.lines.push(line);
    f.values.push(trimOws(line, colon + 1));
    pos = eol + 2;
  }
  return f;
}

/** The error for a header line the scan in parseHeaders refused. */
function headerLineError(line: string, status: 400 | 502): H1Error {
  const folded = line.indexOf(':') <= 0 && (line[0] === ' ' || line[0] === '\t');
  return new H1Error(status, folded ? 'obsolete line folding' : 'malformed header line');
}

/**
 * Check every header line, and take from the ones that frame the message
 * (Content-Length, Transfer-Encoding, Connection and its kin, Upgrade) what
 * the engine needs, without making strings of the others.
 */
function parseHeaders(text: string, first: number, h: ParsedHead, isRequest: boolean): void {
  const status = isRequest ? 400 : 502;
  let contentLength = -1;
  let te: string | undefined;
  let pos = first;
  const end = text.length;
  // Every line checked at once by V8's regular expression engine (a third of
  // the time of the loop below, which finds the bad line and says what is
  // wrong with it when this fails).
  VALID_FIELDS.lastIndex = first;
  const checked = first < end && VALID_FIELDS.test(text);
  while (pos < end) {
    let eol = text.indexOf('\r\n', pos);
    if (eol < 0) eol = end;
    let colon: number;
    let upper = true;
    if (checked) {
      colon = text.indexOf(':', pos);
    } else {
      // One pass over the line by character code: the name (token characters
      // up to the colon), then the value (no CTL but HTAB).
      let i = pos;
      upper = false;
      for (; i < eol; i++) {
        const c = text.charCodeAt(i);
        if (c === 0x3a) break;
        const t = c < 128 ? TOKEN_CHAR[c]! : 0;
        if (t === 0) throw headerLineError(text.slice(pos, eol), status);
        if (t === 2) upper = true;
      }
      if (i === pos || i === eol) throw headerLineError(text.slice(pos, eol), status);
      colon = i;
      for (i = colon + 1; i < eol; i++) {
        const c = text.charCodeAt(i);
        if ((c < 0x20 && c !== 0x09) || c === 0x7f) throw headerLineError(text.slice(pos, eol), status);
      }
    }
    const lineStart = pos;
    pos = eol + 2;
    // Only names of the lengths below can matter to framing.
    const n = colon - lineStart;
    if (n !== 7 && n !== 10 && n !== 14 && n !== 16 && n !== 17) continue;
    const raw = text.slice(lineStart, colon);
    const name = upper ? raw.toLowerCase() : raw;
    // The value without the SP/HTAB around it.
    let from = colon + 1;
    let to = eol;
    while (from < to && (text.charCodeAt(from) === 0x20 || text.charCodeAt(from) === 0x09)) from++;
    while (to > from && (text.charCodeAt(to - 1) === 0x20 || text.charCodeAt(to - 1) === 0x09)) to--;
    const value = text.slice(from, to);
    switch (name) {
      case 'content-length': {
        if (!DIGITS.test(value)) throw new H1Error(status, 'invalid Content-Length');
        if (contentLength >= 0) throw new H1Error(status, 'more than one Content-Length');
        contentLength = Number(value);
        break;
      }
      case 'transfer-encoding':
        te = te === undefined ? value : `${te}, ${value}`;
        break;
      case 'connection':
        h.hopByHop = true;
        for (const t of value.split(',')) {
          const token = t.trim().toLowerCase();
          if (token === 'close') h.closeToken = true;
          else if (token === 'keep-alive') h.keepAliveToken = true;
          else if (token === 'upgrade') h.upgradeToken = true;
        }
        break;
      case 'keep-alive':
      case 'proxy-connection':
        h.hopByHop = true;
        break;
      case 'upgrade':
        h.upgradeHeader = true;
        break;
    }
  }
  if (te !== undefined) {
    if (contentLength >= 0) throw new H1Error(status, 'both Transfer-Encoding and Content-Length');
    if (isRequest && h.minor === 0) throw new H1Error(400, 'Transfer-Encoding in an HTTP/1.0 request');
    const codings = te.split(',');
    const last = codings[codings.length - 1]!.trim().toLowerCase();
    if (last === 'chunked') {
      if (codings.slice(0, -1).some((c) => c.trim().toLowerCase() === 'chunked')) throw new H1Error(status, 'chunked applied twice');
      h.body = 'chunked';
    } else if (isRequest) {
      throw new H1Error(400, 'Transfer-Encoding without chunked last');
    } else {
      h.body = 'close';
    }
  } else if (contentLength >= 0) {
    h.body = contentLength === 0 ? 'none' : 'length';
    h.length = contentLength;
  } else {
    h.body = isRequest ? 'none' : 'close';
  }
}

/** `text`: the head as latin1, from the request line up to (not including) the blank line's CRLFCRLF. */
export function parseRequestHead(text: string): RequestHead {
  let eol = text.indexOf('\r\n');
  if (eol < 0) eol = text.length;
  const line = text.slice(0, eol);
  const m = REQUEST_LINE.exec(line);
  if (!m) {
    if (/^[!#$%&'*+.^_`|~0-9A-Za-z-]+ [^\x00-\x20\x7f]+ HTTP\/[0-9]\.[0-9]$/.test(line)) throw new H1Error(505, 'HTTP version not supported');
    throw new H1Error(400, 'malformed request line');
  }
  const h = new ParsedHead(text, eol + 2, line, m[3] === '0' ? 0 : 1);
  h.method = m[1]!;
  h.target = m[2]!;
  parseHeaders(text, eol + 2, h, true);
  if (h.method === 'CONNECT') throw new H1Error(501, 'CONNECT is not supported');
  h.upgrade = h.upgradeToken && h.upgradeHeader;
  return h;
}

/** `requestMethod` decides whether a body follows (HEAD). */
export function parseResponseHead(text: string, requestMethod: string): ResponseHead {
  let eol = text.indexOf('\r\n');
  if (eol < 0) eol = text.length;
  const line = text.slice(0, eol);
  const m = RESPONSE_LINE.exec(line);
  if (!m) throw new H1Error(502, 'malformed status line');
  const h = new ParsedHead(text, eol + 2, line, m[1] === '0' ? 0 : 1);
  h.status = Number(m[2]);
  parseHeaders(text, eol + 2, h, false);
  if (requestMethod === 'HEAD' || h.status < 200 || h.status === 204 || h.status === 304) {
    h.body = 'none';
    h.length = 0;
  }
  return h;
}

/** Does the sender of this head keep the connection open after the message (RFC 9112 §9.3)? */
export function persistent(h: Head): boolean {
  if (h.closeToken) return false;
  return h.minor === 1 || h.keepAliveToken;
}

/** The field value after `from`, without leading and trailing SP/HTAB (String's trim() would take U+00A0 too). */
function trimOws(line: string, from: number): string {
  let a = from;
  let b = line.length;
  while (a < b && (line.charCodeAt(a) === 0x20 || line.charCodeAt(a) === 0x09)) a++;
  while (b > a && (line.charCodeAt(b - 1) === 0x20 || line.charCodeAt(b - 1) === 0x09)) b--;
  return line.slice(a, b);
}

import { describe, expect, it } from 'vitest';
import { H1Error, parseRequestHead, parseResponseHead, persistent } from './parse.js';

const head = (lines: string[]) => lines.join('\r\n');

describe('request heads', () => {
  it('reads the request line, headers (case kept in the line, lowercased names) and framing', () => {
    const h = parseRequestHead(head(['POST /a?b=1 HTTP/1.1', 'Host: x', 'Content-Length: 12', 'X-Y:  spaced  ']));
    expect(h.method).toBe('POST');
    expect(h.target).toBe('/a?b=1');
    expect(h.minor).toBe(1);
    expect(h.names).toEqual(['host', 'content-length', 'x-y']);
    expect(h.lines[2]).toBe('X-Y:  spaced  ');
    expect(h.values[2]).toBe('spaced');
    expect(h.body).toBe('length');
    expect(h.length).toBe(12);
    expect(persistent(h)).toBe(true);
  });

  it('has no body without Content-Length or Transfer-Encoding, and none for Content-Length: 0', () => {
    expect(parseRequestHead('GET / HTTP/1.1').body).toBe('none');
    expect(parseRequestHead(head(['POST / HTTP/1.1', 'content-length: 0'])).body).toBe('none');
  });

  it('chunked when chunked is the last coding', () => {
    expect(parseRequestHead(head(['POST / HTTP/1.1', 'Transfer-Encoding: gzip, chunked'])).body).toBe('chunked');
    expect(parseRequestHead(head(['POST / HTTP/1.1', 'Transfer-Encoding: gzip', 'Transfer-Encoding: Chunked'])).body).toBe('chunked');
  });

  it('Connection tokens decide persistence; HTTP/1.0 closes unless keep-alive', () => {
    expect(persistent(parseRequestHead(head(['GET / HTTP/1.1', 'Connection: Close'])))).toBe(false);
    expect(persistent(parseRequestHead('GET / HTTP/1.0'))).toBe(false);
    expect(persistent(parseRequestHead(head(['GET / HTTP/1.0', 'Connection: keep-alive'])))).toBe(true);
    const up = parseRequestHead(head(['GET /ws HTTP/1.1', 'Connection: keep-alive, Upgrade', 'Upgrade: websocket']));
    expect(up.upgrade).toBe(true);
    expect(parseRequestHead(head(['GET / HTTP/1.1', 'Connection: upgrade'])).upgrade).toBe(false);
  });

  const bad: [string, string[], number][] = [
    ['a bare LF in a header', ['GET / HTTP/1.1', 'A: b\nC: d'], 400],
    ['a CR inside a value', ['GET / HTTP/1.1', 'A: b\rc'], 400],
    ['obs-fold', ['GET / HTTP/1.1', 'A: b', ' folded'], 400],
    ['a space before the colon', ['GET / HTTP/1.1', 'A : b'], 400],
    ['an empty name', ['GET / HTTP/1.1', ': b'], 400],
    ['a NUL in a value', ['GET / HTTP/1.1', 'A: b\x00'], 400],
    ['DEL in a value', ['GET / HTTP/1.1', 'Host: x', 'A: b\x7f'], 400],
    ['a non-token character in a name', ['GET / HTTP/1.1', 'Host: x', 'A@b: c'], 400],
    ['a name beyond ASCII', ['GET / HTTP/1.1', 'Ä: c'], 400],
    ['a line without a colon', ['GET / HTTP/1.1', 'Host: x', 'nocolon'], 400],
    ['two Content-Lengths', ['POST / HTTP/1.1', 'Content-Length: 1', 'Content-Length: 1'], 400],
    ['a signed Content-Length', ['POST / HTTP/1.1', 'Content-Length: +1'], 400],
    ['a list Content-Length', ['POST / HTTP/1.1', 'Content-Length: 1, 1'], 400],
    ['Content-Length with Transfer-Encoding', ['POST / HTTP/1.1', 'Content-Length: 3', 'Transfer-Encoding: chunked'], 400],
    ['Transfer-Encoding without chunked last', ['POST / HTTP/1.1', 'Transfer-Encoding: chunked, gzip'], 400],
    ['chunked twice', ['POST / HTTP/1.1', 'Transfer-Encoding: chunked, chunked'], 400],
    ['Transfer-Encoding in HTTP/1.0', ['POST / HTTP/1.0', 'Transfer-Encoding: chunked'], 400],
    ['a malformed request line', ['GET  / HTTP/1.1'], 400],
    ['a lowercase version', ['GET / http/1.1'], 400],
    ['HTTP/2.0', ['GET / HTTP/2.0'], 505],
    ['CONNECT', ['CONNECT host:443 HTTP/1.1'], 501],
  ];
  for (const [what, lines, status] of bad) {
    it(`refuses ${what} with ${status}`, () => {
      let err: unknown;
      try {
        parseRequestHead(head(lines));
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(H1Error);
      expect((err as H1Error).status).toBe(status);
    });
  }

  it('takes HTAB and bytes beyond ASCII in values, and framing headers in any case, among other lines', () => {
    const h = parseRequestHead(head(['POST / HTTP/1.1', 'Host: x', 'X-A:\tv\xe9\xff\t', 'CONTENT-LENGTH:\t7 ', 'x-b:', 'CONNECTION: Close']));
    expect([h.body, h.length, h.closeToken, h.hopByHop]).toEqual(['length', 7, true, true]);
    expect(h.values).toEqual(['x', 'v\xe9\xff', '7', '', 'Close']);
  });

  it('refuses a long run of spaces ending in a control byte (the checks are linear, no backtracking)', () => {
    expect(() => parseRequestHead(head(['GET / HTTP/1.1', `A:${' '.repeat(15000)}\x01`]))).toThrow(H1Error);
  });
});

describe('response heads', () => {
  it('frames by method and status', () => {
    expect(parseResponseHead(head(['HTTP/1.1 200 OK', 'Content-Length: 5']), 'GET').body).toBe('length');
    expect(parseResponseHead(head(['HTTP/1.1 200 OK', 'Content-Length: 5']), 'HEAD').body).toBe('none');
    expect(parseResponseHead(head(['HTTP/1.1 204 No Content']), 'GET').body).toBe('none');
    expect(parseResponseHead(head(['HTTP/1.1 304 Not Modified', 'Transfer-Encoding: chunked']), 'GET').body).toBe('none');
    expect(parseResponseHead(head(['HTTP/1.1 100 Continue']), 'POST').body).toBe('none');
    expect(parseResponseHead(head(['HTTP/1.1 200 OK']), 'GET').body).toBe('close');
    expect(parseResponseHead(head(['HTTP/1.1 200 OK', 'Transfer-Encoding: gzip']), 'GET').body).toBe('close');
    expect(parseResponseHead(head(['HTTP/1.1 200 OK', 'Transfer-Encoding: chunked']), 'GET').body).toBe('chunked');
    expect(parseResponseHead('HTTP/1.1 200', 'GET').status).toBe(200);
  });

  it('refuses what cannot be framed safely with 502', () => {
    for (const lines of [['HTTP/1.1 200 OK', 'Content-Length: 1', 'Content-Length: 2'], ['HTTP/1.1 2000 OK'], ['HTTP/1.1 200 OK', 'Content-Length: 2', 'Transfer-Encoding: chunked']]) {
      expect(() => parseResponseHead(head(lines), 'GET')).toThrow(expect.objectContaining({ status: 502 }));
    }
  });
});

describe('header lines, against the rules written as regular expressions', () => {
  // RFC 9110 as plainly as it can be said: a token name, a colon, a value
  // without CTLs but HTAB, optional whitespace around it.
  const LINE = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*((?:[^\x00-\x08\x0a-\x1f\x7f]*[^\x00-\x20\x7f])?)[ \t]*$/;
  const ALPHABET = ['a', 'Z', '-', '~', ':', ' ', '\t', '\x00', '\x01', '\x0b', '\x7f', '\x80', '\xff', '(', '"', ',', '9'];
  const NAME = ['a', 'Z', '-', '~', '9', '!', '|'];
  const VALUE = ['a', 'Z', ' ', ' ', '\t', ':', '\xe9', '\xa0', '"', ',', '9', 'x', 'y', 'z', 'q', 'w', 'v', 'u', 't', 's', '\x01', '\x7f'];

  it('accepts exactly the lines they accept, with the same lowercased name and trimmed value (5,000 random lines)', () => {
    let seed = 7;
    const rand = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) & 0x7fffffff;
      return seed % n;
    };
    let accepted = 0;
    for (let k = 0; k < 5000; k++) {
      const piece = (alphabet: string[], n: number) => {
        let out = '';
        for (; n > 0; n--) out += alphabet[rand(alphabet.length)];
        return out;
      };
      // Any characters; or mostly well-formed: a name, a colon, a value, with now and then a bad byte.
      const line = k % 2 === 0 ? piece(ALPHABET, 1 + rand(12)) : `${piece(NAME, 1 + rand(6))}${rand(8) === 0 ? ' ' : ''}:${piece(VALUE, rand(10))}`;
      const want = LINE.exec(line);
      let got: ReturnType<typeof parseRequestHead> | undefined;
      try {
        got = parseRequestHead(`GET / HTTP/1.1\r\n${line}`);
      } catch (err) {
        expect(err, JSON.stringify(line)).toBeInstanceOf(H1Error);
        expect((err as H1Error).status).toBe(400);
      }
      expect(got !== undefined, JSON.stringify(line)).toBe(want !== null);
      if (!got || !want) continue;
      accepted += 1;
      expect(got.names, JSON.stringify(line)).toEqual([want[1]!.toLowerCase()]);
      expect(got.values, JSON.stringify(line)).toEqual([want[2]]);
      expect(got.lines).toEqual([line]);
    }
    expect(accepted).toBeGreaterThan(500);
  });

  it('names obs-fold as such, and any other refused line as malformed', () => {
    const why = (line: string) => {
      try {
        parseRequestHead(`GET / HTTP/1.1\r\nA: b\r\n${line}`);
      } catch (err) {
        return (err as Error).message;
      }
      return 'accepted';
    };
    expect(why(' folded')).toBe('obsolete line folding');
    expect(why('\tfolded: too')).toBe('malformed header line');
    expect(why('A : b')).toBe('malformed header line');
    expect(why('no colon')).toBe('malformed header line');
    expect(why('A: b\x7f')).toBe('malformed header line');
    expect(why('A: caf\xe9')).toBe('accepted');
  });
});

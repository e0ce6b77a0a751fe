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

import { describe, expect, it } from 'vitest';
import { ChunkedScanner } from './chunked.js';
import { H1Error } from './parse.js';

describe('chunked bodies', () => {
  const body = Buffer.from('5;ext=1\r\nhello\r\n1a\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nTrailer: x\r\n\r\nNEXT', 'latin1');
  const end = body.length - 4;

  it('finds the end in one buffer', () => {
    expect(new ChunkedScanner(400).scan(body, 0)).toBe(end);
  });

  it('finds the end however the bytes are split', () => {
    for (let cut = 1; cut < body.length; cut++) {
      const s = new ChunkedScanner(400);
      const a = s.scan(body.subarray(0, cut), 0);
      if (a >= 0) {
        expect(a).toBe(end);
        continue;
      }
      expect(s.scan(body.subarray(cut), 0) + cut).toBe(end);
    }
    for (let i = 0, s = new ChunkedScanner(400); i < body.length; i++) {
      const r = s.scan(body.subarray(i, i + 1), 0);
      if (r >= 0) {
        expect(i).toBe(end - 1);
        break;
      }
    }
  });

  it('refuses malformed framing', () => {
    for (const bad of ['x\r\n', '5\r\nhelloXX', '5\nhello', '0\r\nA\n', `${'f'.repeat(14)}\r\n`, '5 x\x01\r\n']) {
      expect(() => new ChunkedScanner(400).scan(Buffer.from(bad, 'latin1'), 0)).toThrow(H1Error);
    }
  });
});

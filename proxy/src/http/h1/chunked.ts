// Where a chunked message body ends (RFC 9112 §7.1), found in the bytes as
// they arrive and without decoding them: the forwarding engine (engine.ts)
// passes chunked bodies on unchanged and only needs to know where the message
// stops. Strict like the head parser (parse.ts): malformed framing is an
// H1Error with the status the caller chose (400 for requests, 502 for responses).
import { H1Error } from './parse.js';

const enum C {
  Size,
  SizeOrExt,
  Ext,
  SizeLf,
  Data,
  DataCr,
  DataLf,
  TrailerStart,
  TrailerLine,
  TrailerLf,
  FinalLf,
  Done,
}

const MAX_CHUNK_SIZE_DIGITS = 13; // < 2^52: exact in a double
const MAX_LINE = 8192;

/**
 * Finds the end of a chunked body in the bytes as they arrive, without
 * decoding it. `scan` returns the index just past the body's last byte, or -1
 * when it continues in a later buffer. Throws H1Error on malformed framing.
 */
export class ChunkedScanner {
  private state = C.Size;
  private remaining = 0;
  private digits = 0;
  private lineLength = 0;

  constructor(private readonly status: 400 | 502) {}

  reset(): void {
    this.state = C.Size;
    this.remaining = 0;
    this.digits = 0;
    this.lineLength = 0;
  }

  get done(): boolean {
    return this.state === C.Done;
  }

  scan(buf: Buffer, start: number): number {
    let i = start;
    const n = buf.length;
    while (i < n) {
      switch (this.state) {
        case C.Data: {
          const take = Math.min(this.remaining, n - i);
          i += take;
          this.remaining -= take;
          if (this.remaining === 0) this.state = C.DataCr;
          continue;
        }
        case C.Size:
        case C.SizeOrExt: {
          const b = buf[i]!;
          const v = hexValue(b);
          if (v >= 0) {
            if (++this.digits > MAX_CHUNK_SIZE_DIGITS) this.fail('chunk size too large');
            this.remaining = this.remaining * 16 + v;
            this.state = C.SizeOrExt;
          } else if (this.state === C.SizeOrExt && (b === 0x3b || b === 0x20 || b === 0x09)) {
            this.state = C.Ext; // chunk extension (or BWS before it): skipped up to CR
            this.lineLength = 0;
          } else if (this.state === C.SizeOrExt && b === 0x0d) {
            this.state = C.SizeLf;
          } else {
            this.fail('malformed chunk size');
          }
          i += 1;
          continue;
        }
        case C.Ext: {
          const b = buf[i]!;
          if (b === 0x0d) this.state = C.SizeLf;
          else if ((b < 0x20 && b !== 0x09) || b === 0x7f) this.fail('malformed chunk extension');
          else if (++this.lineLength > MAX_LINE) this.fail('chunk extension too long');
          i += 1;
          continue;
        }
        case C.SizeLf:
          if (buf[i] !== 0x0a) this.fail('malformed chunk size line');
          i += 1;
          this.digits = 0;
          if (this.remaining === 0) {
            this.state = C.TrailerStart;
          } else {
            this.state = C.Data;
          }
          continue;
        case C.DataCr:
          if (buf[i] !== 0x0d) this.fail('missing CRLF after chunk data');
          this.state = C.DataLf;
          i += 1;
          continue;
        case C.DataLf:
          if (buf[i] !== 0x0a) this.fail('missing CRLF after chunk data');
          this.state = C.Size;
          this.remaining = 0;
          i += 1;
          continue;
        case C.TrailerStart: {
          const b = buf[i]!;
          i += 1;
          if (b === 0x0d) {
            this.state = C.FinalLf;
          } else if (b === 0x0a || b < 0x20 || b === 0x7f) {
            this.fail('malformed trailer');
          } else {
            this.state = C.TrailerLine;
            this.lineLength = 1;
          }
          continue;
        }
        case C.TrailerLine: {
          const b = buf[i]!;
          i += 1;
          if (b === 0x0d) this.state = C.TrailerLf;
          else if (b === 0x0a || (b < 0x20 && b !== 0x09) || b === 0x7f) this.fail('malformed trailer');
          else if (++this.lineLength > MAX_LINE) this.fail('trailer line too long');
          continue;
        }
        case C.TrailerLf:
          if (buf[i] !== 0x0a) this.fail('malformed trailer');
          i += 1;
          this.state = C.TrailerStart;
          continue;
        case C.FinalLf:
          if (buf[i] !== 0x0a) this.fail('malformed end of chunked body');
          this.state = C.Done;
          return i + 1;
        case C.Done:
          return i;
      }
    }
    return -1;
  }

  private fail(why: string): never {
    throw new H1Error(this.status, why);
  }
}

function hexValue(b: number): number {
  if (b >= 0x30 && b <= 0x39) return b - 0x30;
  const l = b | 0x20;
  if (l >= 0x61 && l <= 0x66) return l - 0x61 + 10;
  return -1;
}

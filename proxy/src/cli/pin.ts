// `tlsmesh pin FILE.pem`: the SPKI pin of the first certificate in FILE.
import { readFile } from 'node:fs/promises';
import { UsageError, oneLine } from '../errors.js';
import { spkiPinOf } from '../identity/pin.js';
import { parseCertificates } from '../identity/x509.js';
import { parseFlags } from './args.js';

export async function run(args: string[]): Promise<number> {
  const { positionals } = parseFlags('pin', args, {}, true);
  if (positionals.length !== 1) throw new UsageError('pin: expected exactly one FILE.pem');
  const file = positionals[0]!;
  let pem: string;
  try {
    pem = await readFile(file, 'utf8');
  } catch (err) {
    throw new UsageError(`pin: ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : oneLine(err)}`);
  }
  let cert;
  try {
    cert = parseCertificates(pem, file)[0]!;
  } catch (err) {
    throw new UsageError(`pin: ${oneLine(err)}`);
  }
  process.stdout.write(`${spkiPinOf(cert)}\n`);
  return 0;
}

// `tlsmesh inject -f FILE|- [--config FILE] [--quiet]`: offline injection, like
// `istioctl kube-inject` / `linkerd inject`. Prints the manifests with the
// sidecar injected on stdout and one line per pod template on stderr.
import { readFile } from 'node:fs/promises';
import { defaultInjectorConfig, loadInjectorConfig } from '../../../injector/src/config.js';
import { InjectError } from '../../../injector/src/errors.js';
import { injectManifest } from '../../../injector/src/manifest.js';
import { UsageError } from '../errors.js';
import { parseFlags, required } from './args.js';

export async function run(args: string[]): Promise<number> {
  const { values } = parseFlags('inject', args, {
    filename: { type: 'string', short: 'f' },
    config: { type: 'string' },
    quiet: { type: 'boolean', short: 'q' },
  });
  const file = required('inject', 'filename', values.filename);
  const cfg = values.config ? loadInjectorConfig(values.config) : defaultInjectorConfig();
  const text = await readInput(file);
  let result;
  try {
    result = injectManifest(text, cfg);
  } catch (err) {
    if (!(err instanceof InjectError)) throw err;
    process.stderr.write(`inject: ${file === '-' ? 'stdin' : file}: ${err.problems.join('; ')}\n`);
    return 2;
  }
  process.stdout.write(result.output);
  if (!values.quiet) {
    for (const r of result.reports) {
      process.stderr.write(r.decision.inject ? `${r.object}: injected\n` : `${r.object}: skipped: ${r.decision.detail}\n`);
      for (const w of r.warnings) process.stderr.write(`${r.object}: warning: ${w}\n`);
    }
  }
  return 0;
}

async function readInput(file: string): Promise<string> {
  if (file === '-') {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  }
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : code === 'EACCES' ? 'permission denied' : String(code ?? err);
    throw new UsageError(`inject: -f ${file}: ${why}`, { cause: err });
  }
}

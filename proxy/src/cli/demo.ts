// `tlsmesh demo [--duration SECONDS] [--plain] [--base-port PORT] [--ttl 30s]`:
// the embedded default, a local mesh with real mTLS and rotating certificates.
// See docs/demo.md; the pieces live in proxy/src/demo/.
import { parseDemoOptions, USAGE } from '../demo/options.js';
import { runDemo } from '../demo/session.js';

export async function run(args: string[]): Promise<number> {
  const isTty = process.stdout.isTTY === true;
  const o = parseDemoOptions(args, isTty);
  if (o.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const live = !o.plain;
  return runDemo(o, { out: process.stdout, err: process.stderr, live, color: live && !process.env.NO_COLOR });
}

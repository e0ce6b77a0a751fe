// `tlsmesh init`: the injected init step. Writes the transparent-capture NAT rules
// in the current network namespace (docs/capture.md), removes them (--clean), or
// prints them (--dry-run).
import { UsageError } from '../errors.js';
import { applyCapture, cleanCapture, familiesFor, type BackendChoice, type Ipv6Choice } from '../capture/apply.js';
import { BACKENDS, binary, tables } from '../capture/iptables.js';
import { captureOptions, type CaptureOptions } from '../capture/options.js';
import { cleanScript, fullScript, parseNatTable } from '../capture/restore.js';
import { buildRules } from '../capture/rules.js';
import { parseFlags } from './args.js';

const USAGE = `usage: tlsmesh init [flags]

Write the transparent-capture iptables NAT rules in this network namespace
(root with NET_ADMIN). Running it again leaves exactly one set of rules.

  --inbound-port 15006              where inbound TCP is redirected
  --outbound-port 15001             where outbound TCP is redirected
  --proxy-uid 1337                  traffic of this uid is never redirected
  --inbound-ports all|P,...         inbound destination ports captured (default all)
  --exclude-inbound-ports P,...     never captured inbound (15020 always is excluded)
  --exclude-outbound-ports P,...    never captured outbound
  --exclude-outbound-cidrs CIDR,... never captured outbound
  --iptables auto|nft|legacy        backend (default auto: the one in use here)
  --ipv6 auto|on|off                also write ip6tables rules (default auto: if IPv6 is enabled)
  --dry-run                         print the rules (iptables-restore input), change nothing
  --clean                           remove every rule and chain tlsmesh wrote
`;

const FLAGS = {
  'inbound-port': { type: 'string' },
  'outbound-port': { type: 'string' },
  'proxy-uid': { type: 'string' },
  'inbound-ports': { type: 'string' },
  'exclude-inbound-ports': { type: 'string' },
  'exclude-outbound-ports': { type: 'string' },
  'exclude-outbound-cidrs': { type: 'string' },
  iptables: { type: 'string' },
  ipv6: { type: 'string' },
  'dry-run': { type: 'boolean' },
  clean: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

function choice<T extends string>(flag: string, value: string | undefined, allowed: readonly T[], dflt: T): T {
  if (value === undefined) return dflt;
  if (!(allowed as readonly string[]).includes(value)) throw new UsageError(`init: --${flag}: expected ${allowed.join(', ')}`);
  return value as T;
}

export async function run(args: string[]): Promise<number> {
  const { values } = parseFlags('init', args, FLAGS);
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const options = captureOptions(values);
  const backend = choice<BackendChoice>('iptables', values.iptables, ['auto', ...BACKENDS], 'auto');
  const ipv6 = choice<Ipv6Choice>('ipv6', values.ipv6, ['auto', 'on', 'off'], 'auto');

  if (values.clean && values['dry-run']) return printClean(backend, ipv6);
  if (values['dry-run']) return printRules(options, ipv6);
  if (values.clean) {
    const outcome = await cleanCapture(backend, ipv6);
    const removed = outcome.families.reduce((n, f) => n + f.rules, 0);
    process.stdout.write(`tlsmesh init --clean: removed ${removed} rules\n`);
    return 0;
  }
  const outcome = await applyCapture(options, backend, ipv6);
  for (const w of outcome.warnings) process.stderr.write(`tlsmesh init: warning: ${w}\n`);
  const counts = outcome.families.map((f) => `IPv${f.family} ${f.rules} rules`).join(', ');
  process.stdout.write(
    `tlsmesh init: iptables-${outcome.backend}: ${counts} (inbound -> ${options.inboundPort}, ` +
      `outbound -> ${options.outboundPort}, uid ${options.proxyUid} exempt)\n`,
  );
  return 0;
}

function printRules(options: CaptureOptions, ipv6: Ipv6Choice): number {
  for (const family of familiesFor(ipv6)) {
    const tool = family === 4 ? 'iptables-restore' : 'ip6tables-restore';
    process.stdout.write(`# tlsmesh init --dry-run: IPv${family} rules, input for \`${tool} --noflush\` (nothing was changed)\n`);
    process.stdout.write(fullScript(buildRules(options, family)));
  }
  return 0;
}

async function printClean(backend: BackendChoice, ipv6: Ipv6Choice): Promise<number> {
  for (const b of backend === 'auto' ? BACKENDS : [backend]) {
    for (const family of ipv6 === 'off' ? ([4] as const) : ([4, 6] as const)) {
      const save = await tables(b, family).save().catch(() => undefined);
      const script = save === undefined ? undefined : cleanScript(parseNatTable(save));
      if (!script) continue;
      process.stdout.write(`# tlsmesh init --clean --dry-run: input for \`${binary(b, family, 'restore')} --noflush\` (nothing was changed)\n${script}`);
    }
  }
  return 0;
}

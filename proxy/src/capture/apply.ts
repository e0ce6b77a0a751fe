// `tlsmesh init` against the live namespace: pick the backend, apply or remove
// the rules per family, each in one atomic iptables-restore commit.
import { existsSync, readFileSync } from 'node:fs';
import { CaptureError } from '../errors.js';
import { BACKENDS, backendUse, chooseBackend, tables, type Backend } from './iptables.js';
import type { CaptureOptions } from './options.js';
import { applyScript, cleanScript, ownedRules, parseNatTable } from './restore.js';
import { buildRules, type Family } from './rules.js';

export type BackendChoice = Backend | 'auto';
export type Ipv6Choice = 'auto' | 'on' | 'off';

export interface Outcome {
  backend?: Backend;
  /** Per family: how many rule lines tlsmesh holds (apply) or removed (clean). */
  families: { family: Family; rules: number }[];
  warnings: string[];
}

/** IPv6 is captured when the kernel has it enabled in this namespace. */
export function ipv6Enabled(): boolean {
  if (!existsSync('/proc/net/if_inet6')) return false;
  try {
    return readFileSync('/proc/sys/net/ipv6/conf/all/disable_ipv6', 'utf8').trim() !== '1';
  } catch {
    return true;
  }
}

export function familiesFor(ipv6: Ipv6Choice): Family[] {
  return ipv6 === 'on' || (ipv6 === 'auto' && ipv6Enabled()) ? [4, 6] : [4];
}

/** The backend auto picks; throws when neither works (not root, no iptables). */
async function autoBackend(): Promise<Backend> {
  const backend = chooseBackend(await Promise.all(BACKENDS.map(backendUse)));
  if (!backend) throw new CaptureError('iptables: neither iptables-nft nor iptables-legacy works here (root with NET_ADMIN? iptables installed?)');
  return backend;
}

export async function applyCapture(options: CaptureOptions, choice: BackendChoice, ipv6: Ipv6Choice): Promise<Outcome> {
  const backend = choice === 'auto' ? await autoBackend() : choice;
  const outcome: Outcome = { backend, families: [], warnings: [] };
  for (const family of familiesFor(ipv6)) {
    const t = tables(backend, family);
    let current;
    try {
      current = parseNatTable(await t.save('nat'));
    } catch (err) {
      // IPv6 nat may be missing from the kernel: without --ipv6 on, say so and go on.
      if (family === 6 && ipv6 === 'auto') {
        outcome.warnings.push(`IPv6 not captured: ${(err as Error).message}`);
        continue;
      }
      throw err;
    }
    const set = buildRules(options, family);
    await t.restore(applyScript(current, set));
    const after = ownedRules(parseNatTable(await t.save('nat')));
    const expected = set.rules.length + set.jumps.length;
    if (after.length !== expected) {
      throw new CaptureError(`${t.backend} IPv${family}: expected ${expected} rules after applying, found ${after.length}`);
    }
    outcome.families.push({ family, rules: after.length });
  }
  // One set only: drop what an earlier run left in the other backend.
  for (const other of BACKENDS.filter((b) => b !== backend)) {
    const removed = await cleanBackend(other, familiesFor(ipv6), true);
    if (removed.some((f) => f.rules > 0)) outcome.warnings.push(`removed earlier tlsmesh rules from iptables-${other}`);
  }
  return outcome;
}

export async function cleanCapture(choice: BackendChoice, ipv6: Ipv6Choice): Promise<Outcome> {
  const outcome: Outcome = { families: [], warnings: [] };
  const families: Family[] = ipv6 === 'off' ? [4] : [4, 6];
  if (choice === 'auto') await autoBackend(); // fails loudly rather than "removed 0" when nothing can be read
  for (const backend of choice === 'auto' ? BACKENDS : [choice]) {
    const removed = await cleanBackend(backend, families, choice === 'auto');
    for (const r of removed) {
      const f = outcome.families.find((x) => x.family === r.family);
      if (f) f.rules += r.rules;
      else outcome.families.push({ ...r });
    }
  }
  return outcome;
}

/** Remove tlsmesh's rules from one backend; `lenient`: a backend that cannot be read holds none. */
async function cleanBackend(backend: Backend, families: Family[], lenient: boolean): Promise<{ family: Family; rules: number }[]> {
  const out: { family: Family; rules: number }[] = [];
  for (const family of families) {
    const t = tables(backend, family);
    let current;
    try {
      // All tables, not `-t nat`: asking legacy for nat would create the table.
      current = parseNatTable(await t.save());
    } catch (err) {
      if (lenient || family === 6) continue;
      throw err;
    }
    const script = cleanScript(current);
    if (script) await t.restore(script);
    out.push({ family, rules: ownedRules(current).length });
  }
  return out;
}

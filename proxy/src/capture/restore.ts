// iptables-restore input for applying and removing the capture rules, computed
// from the nat table as iptables-save printed it. Pure. Applied with
// `iptables-restore --noflush`, each script is one atomic commit that touches
// only tlsmesh's chains and the jumps into them.
import { CHAIN_PREFIX, type RuleSet } from './rules.js';

export interface NatTable {
  /** Every chain of the nat table (built-in and user-defined). */
  chains: readonly string[];
  /** Every `-A CHAIN ...` line, as printed. */
  rules: readonly string[];
}

/** The `*nat` section of iptables-save output; empty when the table is absent. */
export function parseNatTable(save: string): NatTable {
  const chains: string[] = [];
  const rules: string[] = [];
  let inNat = false;
  for (const raw of save.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('*')) inNat = line === '*nat';
    else if (!inNat || line.startsWith('#')) continue;
    else if (line.startsWith(':')) chains.push(line.slice(1).split(/\s+/)[0]!);
    else if (line.startsWith('-A ')) rules.push(line);
  }
  return { chains, rules };
}

const isOwnChain = (chain: string) => chain.startsWith(CHAIN_PREFIX);
const chainOf = (rule: string) => rule.split(/\s+/)[1]!;
const targetOf = (rule: string) => /\s-[jg]\s+(\S+)/.exec(rule)?.[1];

/** Every line tlsmesh wrote: rules in its chains and jumps into them. */
export function ownedRules(table: NatTable): string[] {
  return table.rules.filter((r) => isOwnChain(chainOf(r)) || isOwnChain(targetOf(r) ?? ''));
}

/** A complete restore file for a namespace without capture rules (what --dry-run prints). */
export function fullScript(set: RuleSet): string {
  return ['*nat', ...set.chains.map(declare), ...set.rules, ...set.jumps, 'COMMIT', ''].join('\n');
}

/**
 * Rebuild the own chains from scratch (declaring a chain under --noflush
 * creates it or empties it), add each jump that is missing, and delete the
 * duplicates and any stale jump into an own chain.
 */
export function applyScript(current: NatTable, set: RuleSet): string {
  const lines = ['*nat', ...set.chains.map(declare), ...set.rules];
  const seen = new Map<string, number>();
  for (const rule of current.rules) {
    if (isOwnChain(chainOf(rule)) || !isOwnChain(targetOf(rule) ?? '')) continue;
    const n = (seen.get(rule) ?? 0) + 1;
    seen.set(rule, n);
    if (!set.jumps.includes(rule) || n > 1) lines.push(remove(rule));
  }
  for (const jump of set.jumps) if (!seen.has(jump)) lines.push(jump);
  // Stale own chains (another version's) that nothing refers to any more.
  const stale = current.chains.filter((c) => isOwnChain(c) && !set.chains.includes(c));
  lines.push(...stale.map((c) => `-F ${c}`), ...stale.map((c) => `-X ${c}`));
  return [...lines, 'COMMIT', ''].join('\n');
}

/** Remove every jump into an own chain, then the chains; undefined when there is nothing. */
export function cleanScript(current: NatTable): string | undefined {
  const own = current.chains.filter(isOwnChain);
  const jumps = current.rules.filter((r) => !isOwnChain(chainOf(r)) && isOwnChain(targetOf(r) ?? ''));
  if (own.length === 0 && jumps.length === 0) return undefined;
  return ['*nat', ...jumps.map(remove), ...own.map((c) => `-F ${c}`), ...own.map((c) => `-X ${c}`), 'COMMIT', ''].join('\n');
}

const declare = (chain: string) => `:${chain} - [0:0]`;
const remove = (rule: string) => `-D${rule.slice(2)}`;

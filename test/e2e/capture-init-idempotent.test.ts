// `tlsmesh init` in a test-made network namespace, with each iptables backend:
// the rules iptables-save lists are exactly what --dry-run prints, once, however
// often init runs; --clean leaves the nat table as it found it; auto picks the
// backend already in use; switching backends leaves one set.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Lab, needsRoot, type Netns } from '../support/netns.js';
import { CLI } from '../support/processes.js';

const FLAGS = ['--exclude-outbound-cidrs', '198.18.1.7/24,fd00::1/8,2001:db8:0:0:1::/80', '--exclude-outbound-ports', '53', '--exclude-inbound-ports', '22', '--ipv6', 'on'];
const FOREIGN = '-A OUTPUT -d 198.18.0.99/32 -j RETURN';
const FOREIGN6 = '-A OUTPUT -d fd00::99/128 -j RETURN';
type Backend = 'nft' | 'legacy';

/** The nat table's lines as iptables-save prints them, without comments and counters. */
async function nat(ns: Netns, backend: Backend, family: 4 | 6): Promise<string[]> {
  const tool = `${family === 4 ? 'iptables' : 'ip6tables'}-${backend}-save`;
  const out = await ns.run(tool, []);
  const lines = out.stdout.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
  const start = lines.indexOf('*nat');
  if (start < 0) return [];
  return lines.slice(start, lines.indexOf('COMMIT', start) + 1).map((l) => l.replace(/ \[\d+:\d+\]$/, ''));
}

const owned = (lines: string[]) => lines.filter((l) => l.includes('TLSMESH_'));
const chainRules = (lines: string[], chain: string) => lines.filter((l) => l.startsWith(`-A ${chain} `));

/** The --dry-run output, split per family. */
async function dryRun(ns: Netns): Promise<Record<4 | 6, string[]>> {
  const out = (await ns.run('node', [CLI, 'init', '--dry-run', ...FLAGS])).stdout;
  const [, v4, v6] = out.split(/^# tlsmesh init --dry-run: IPv[46].*$/m);
  const lines = (s = '') => s.split('\n').filter((l) => l !== '' && l !== '*nat' && l !== 'COMMIT').map((l) => l.replace(/ \[0:0\]$/, ''));
  return { 4: lines(v4), 6: lines(v6) };
}

describe.runIf(needsRoot('capture-init-idempotent'))('tlsmesh init: idempotent, exact, and clean', () => {
  let lab: Lab;
  let ns: Netns;
  beforeEach(async () => {
    lab = await Lab.create();
    ns = await lab.netns('init');
  });
  afterEach(async () => {
    await lab.dispose();
  });

  describe.each<Backend>(['nft', 'legacy'])('iptables-%s', (backend) => {
    it('writes exactly the --dry-run rules, once, however often it runs; --clean restores the table', async () => {
      await ns.run(`iptables-${backend}`, ['-t', 'nat', ...FOREIGN.split(' ')]);
      await ns.run(`ip6tables-${backend}`, ['-t', 'nat', ...FOREIGN6.split(' ')]);
      const before = { 4: await nat(ns, backend, 4), 6: await nat(ns, backend, 6) };
      const expected = await dryRun(ns);

      for (let i = 0; i < 3; i++) {
        const r = await ns.run('node', [CLI, 'init', '--iptables', backend, ...FLAGS]);
        expect(r.stdout).toBe(`tlsmesh init: iptables-${backend}: IPv4 12 rules, IPv6 13 rules (inbound -> 15006, outbound -> 15001, uid 1337 exempt)\n`);
      }
      for (const family of [4, 6] as const) {
        const lines = await nat(ns, backend, family);
        const want = expected[family];
        // The same lines, each exactly once...
        expect(owned(lines).sort()).toEqual(want.filter((l) => !l.startsWith(':')).concat(want.filter((l) => l.startsWith(':'))).sort());
        // ...and in the same order within each chain.
        for (const chain of ['PREROUTING', 'OUTPUT', 'TLSMESH_INBOUND', 'TLSMESH_IN_REDIRECT', 'TLSMESH_OUTPUT', 'TLSMESH_REDIRECT']) {
          expect(owned(chainRules(lines, chain)), chain).toEqual(chainRules(want, chain));
        }
      }
      expect(await nat(ns, backend, 4)).toContain(FOREIGN);
      expect(await nat(ns, backend, 6)).toContain(FOREIGN6);
      const other: Backend = backend === 'nft' ? 'legacy' : 'nft';
      expect(owned(await nat(ns, other, 4))).toEqual([]);

      const clean = await ns.run('node', [CLI, 'init', '--clean']);
      expect(clean.stdout).toBe('tlsmesh init --clean: removed 25 rules\n');
      expect(await nat(ns, backend, 4)).toEqual(before[4]);
      expect(await nat(ns, backend, 6)).toEqual(before[6]);
      expect((await ns.run('node', [CLI, 'init', '--clean'])).stdout).toBe('tlsmesh init --clean: removed 0 rules\n');
    });

    it(`auto picks iptables-${backend} when it already holds rules`, async () => {
      await ns.run(`iptables-${backend}`, ['-t', 'nat', ...FOREIGN.split(' ')]);
      const r = await ns.run('node', [CLI, 'init', '--ipv6', 'off']);
      expect(r.stdout).toMatch(new RegExp(`^tlsmesh init: iptables-${backend}: IPv4 9 rules`));
      expect(owned(await nat(ns, backend, 4))).toHaveLength(9 + 4);
    });
  });

  it('switching backends leaves one set of rules', async () => {
    await ns.run('node', [CLI, 'init', '--iptables', 'legacy', '--ipv6', 'on']);
    expect(owned(await nat(ns, 'legacy', 4))).not.toEqual([]);
    const r = await ns.run('node', [CLI, 'init', '--iptables', 'nft', '--ipv6', 'on']);
    expect(r.stderr).toBe('tlsmesh init: warning: removed earlier tlsmesh rules from iptables-legacy\n');
    expect(owned(await nat(ns, 'legacy', 4))).toEqual([]);
    expect(owned(await nat(ns, 'legacy', 6))).toEqual([]);
    expect(owned(await nat(ns, 'nft', 4))).toHaveLength(9 + 4);
    // A later auto run stays with nft.
    expect((await ns.run('node', [CLI, 'init'])).stdout).toMatch(/^tlsmesh init: iptables-nft: /);
  });
});

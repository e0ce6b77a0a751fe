// `tlsmesh init --dry-run` through the built CLI: the exact rules, nothing changed
// (no root or iptables needed), and usage errors as one line naming the flag.
import { execFile } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { CLI } from '../support/processes.js';

function tlsmesh(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('node', [CLI, ...args], (err, stdout, stderr) => resolve({ code: err ? Number(err.code) : 0, stdout, stderr }));
  });
}

describe('tlsmesh init --dry-run', () => {
  it('prints the default rules as iptables-restore input', async () => {
    const r = await tlsmesh(['init', '--dry-run', '--ipv6', 'off']);
    expect(r).toEqual({
      code: 0,
      stderr: '',
      stdout: [
        '# tlsmesh init --dry-run: IPv4 rules, input for `iptables-restore --noflush` (nothing was changed)',
        '*nat',
        ':TLSMESH_INBOUND - [0:0]',
        ':TLSMESH_IN_REDIRECT - [0:0]',
        ':TLSMESH_OUTPUT - [0:0]',
        ':TLSMESH_REDIRECT - [0:0]',
        '-A TLSMESH_INBOUND -p tcp -m tcp --dport 15020 -j RETURN',
        '-A TLSMESH_INBOUND -p tcp -j TLSMESH_IN_REDIRECT',
        '-A TLSMESH_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006',
        '-A TLSMESH_OUTPUT -m owner --uid-owner 1337 -j RETURN',
        '-A TLSMESH_OUTPUT -o lo -j RETURN',
        '-A TLSMESH_OUTPUT -j TLSMESH_REDIRECT',
        '-A TLSMESH_REDIRECT -p tcp -j REDIRECT --to-ports 15001',
        '-A PREROUTING -p tcp -j TLSMESH_INBOUND',
        '-A OUTPUT -p tcp -j TLSMESH_OUTPUT',
        'COMMIT',
        '',
      ].join('\n'),
    });
  });

  it('prints one section per family with --ipv6 on, each CIDR in its family', async () => {
    const r = await tlsmesh(['init', '--dry-run', '--ipv6', 'on', '--exclude-outbound-cidrs', '10.0.0.0/8,fd00::/8']);
    expect(r.code).toBe(0);
    const [, v4, v6] = r.stdout.split(/^# .*$/m);
    expect(v4).toContain('-A TLSMESH_OUTPUT -d 10.0.0.0/8 -j RETURN\n');
    expect(v4).not.toContain('fd00::/8');
    expect(v6).toContain('-A TLSMESH_OUTPUT -d fd00::/8 -j RETURN\n');
    expect(v6).not.toContain('10.0.0.0/8');
  });

  it.each([
    { args: ['--inbound-port', 'x'], stderr: 'init: --inbound-port: expected a port 1-65535, got "x"' },
    { args: ['--exclude-outbound-cidrs', '10.0.0.0/40'], stderr: 'init: --exclude-outbound-cidrs: expected a CIDR like 10.0.0.0/8, got "10.0.0.0/40"' },
    { args: ['--iptables', 'nftables'], stderr: 'init: --iptables: expected auto, nft, legacy' },
    { args: ['--redirect-mode', 'tproxy'], stderr: 'init: unknown flag: --redirect-mode' },
    { args: ['--proxy-uid'], stderr: 'init: --proxy-uid: expected a value' },
  ])('$args.0: exit 2, one line', async ({ args, stderr }) => {
    const r = await tlsmesh(['init', '--dry-run', ...args]);
    expect(r).toEqual({ code: 2, stdout: '', stderr: `${stderr}\n` });
  });
});

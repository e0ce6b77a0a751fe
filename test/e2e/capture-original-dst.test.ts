// The SO_ORIGINAL_DST addon against real iptables REDIRECT rules in a test-made
// network namespace: IPv4 on an IPv4 listener, IPv4 on a dual-stack listener
// (::ffff:a.b.c.d), IPv6, and a connection that was not redirected.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab, needsRoot, type Netns } from '../support/netns.js';

const PROBE = 'test/support/capture-probe.mjs';
const REMOTE = '198.18.0.9';

describe.runIf(needsRoot('capture-original-dst'))('SO_ORIGINAL_DST through the addon', () => {
  let lab: Lab;
  let ns: Netns;

  beforeAll(async () => {
    lab = await Lab.create();
    ns = await lab.netns('odst');
    await lab.link(ns, '198.18.0.1/24', await lab.netns('peer'), '198.18.0.2/24');
    const v4 = ['-t', 'nat', '-A', 'OUTPUT', '-p', 'tcp', '-d', REMOTE];
    await ns.run('iptables', [...v4, '--dport', '8080', '-j', 'REDIRECT', '--to-ports', '15001']);
    await ns.run('iptables', [...v4, '--dport', '8081', '-j', 'REDIRECT', '--to-ports', '15002']);
    await ns.run('ip6tables', ['-t', 'nat', '-A', 'OUTPUT', '-p', 'tcp', '-d', '::1', '--dport', '8080', '-j', 'REDIRECT', '--to-ports', '15001']);
    const dual = ns.spawn('node', [PROBE, 'serve', 'dual', '15001', '::']);
    const v4only = ns.spawn('node', [PROBE, 'serve', 'v4', '15002', '0.0.0.0']);
    await Promise.all([dual.waitFor(/listening/), v4only.waitFor(/listening/)]);
  });

  afterAll(async () => {
    await lab?.dispose();
  });

  async function ask(host: string, port: number): Promise<Record<string, unknown>> {
    const r = await ns.run('node', [PROBE, 'ask', host, String(port)]);
    return JSON.parse(r.stdout) as Record<string, unknown>;
  }

  it.each([
    { name: 'IPv4 on an IPv4 listener', host: REMOTE, port: 8081, server: 'v4', original: { address: REMOTE, port: 8081, family: 4 } },
    { name: 'IPv4 on a dual-stack listener', host: REMOTE, port: 8080, server: 'dual', original: { address: REMOTE, port: 8080, family: 4 } },
    { name: 'IPv6', host: '::1', port: 8080, server: 'dual', original: { address: '::1', port: 8080, family: 6 } },
  ])('$name: the destination before REDIRECT', async ({ host, port, server, original }) => {
    const answer = await ask(host, port);
    expect(answer.name).toBe(server);
    expect(answer.original).toEqual(original);
  });

  it('refuses a connection made to the listener directly (following it would loop)', async () => {
    const answer = await ask('127.0.0.1', 15002);
    expect(answer.original).toBeUndefined();
    expect(answer.originalError).toMatch(/^original destination: the connection was not redirected/);
  });
});

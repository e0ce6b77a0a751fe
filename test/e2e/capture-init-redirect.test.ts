// What the `tlsmesh init` rules do to real connections between two pods made of
// network namespaces (A 198.18.0.1, B 198.18.0.2 and .3, joined by a veth pair).
// Stand-in listeners on the capture ports report where each connection landed
// and its original destination; uid 1337 plays the proxy.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab, needsRoot, type Netns } from '../support/netns.js';
import { CLI } from '../support/processes.js';

const PROBE = 'test/support/capture-probe.mjs';
const A = '198.18.0.1';
const B = '198.18.0.2';
const B_EXCLUDED = '198.18.0.3';
const PROXY = 1337;

describe.runIf(needsRoot('capture-init-redirect'))('the capture rules between two pods', () => {
  let lab: Lab;
  const pods: Record<'A' | 'B', Netns> = {} as never;

  beforeAll(async () => {
    lab = await Lab.create();
    pods.A = await lab.netns('podA');
    pods.B = await lab.netns('podB');
    await lab.link(pods.A, `${A}/24`, pods.B, `${B}/24`);
    await pods.B.ip('addr', 'add', `${B_EXCLUDED}/24`, 'dev', 'eth0');
    await pods.A.run('node', [CLI, 'init', '--exclude-outbound-ports', '9999', '--exclude-outbound-cidrs', `${B_EXCLUDED}/32`]);
    await pods.B.run('node', [CLI, 'init', '--exclude-inbound-ports', '2222']);
    const serve = (ns: Netns, name: string, port: number, host = '0.0.0.0') => ns.spawn('node', [PROBE, 'serve', name, String(port), host], { uid: PROXY });
    const servers = [
      serve(pods.A, 'A-outbound', 15001, '127.0.0.1'),
      serve(pods.A, 'A-inbound', 15006),
      serve(pods.A, 'A-app', 8080),
      serve(pods.B, 'B-inbound', 15006),
      serve(pods.B, 'B-admin', 15020),
      serve(pods.B, 'B-ssh', 2222),
      serve(pods.B, 'B-app', 8080),
    ];
    await Promise.all(servers.map((s) => s.waitFor(/listening/)));
  });

  afterAll(async () => {
    await lab?.dispose();
  });

  async function ask(as: 'app' | 'proxy', host: string, port: number): Promise<{ name: string; original?: unknown; originalError?: string }> {
    const r = await pods.A.run('node', [PROBE, 'ask', host, String(port)], as === 'proxy' ? { uid: PROXY } : {});
    return JSON.parse(r.stdout);
  }
  const orig = (address: string, port: number) => ({ address, port, family: 4 });

  it.each([
    { name: "the app's call to a peer goes to the outbound capture port", as: 'app', host: B, port: 8080, lands: 'A-outbound', original: orig(B, 8080) },
    { name: "the proxy's own call is not captured; the peer captures it inbound", as: 'proxy', host: B, port: 8080, lands: 'B-inbound', original: orig(B, 8080) },
    { name: 'the admin port is never captured inbound', as: 'proxy', host: B, port: 15020, lands: 'B-admin' },
    { name: '--exclude-inbound-ports', as: 'proxy', host: B, port: 2222, lands: 'B-ssh' },
    { name: '--exclude-outbound-ports (the peer still captures it inbound)', as: 'app', host: B, port: 9999, lands: 'B-inbound', original: orig(B, 9999) },
    { name: '--exclude-outbound-cidrs', as: 'app', host: B_EXCLUDED, port: 8080, lands: 'B-inbound', original: orig(B_EXCLUDED, 8080) },
    { name: 'the app calling localhost stays local', as: 'app', host: '127.0.0.1', port: 8080, lands: 'A-app' },
    { name: 'the app calling its own pod IP stays local', as: 'app', host: A, port: 8080, lands: 'A-app' },
    { name: 'the inbound proxy forwarding to the app on 127.0.0.1 is not captured again', as: 'proxy', host: '127.0.0.1', port: 8080, lands: 'A-app' },
  ] as const)('$name', async ({ as, host, port, lands, ...rest }) => {
    const answer = await ask(as, host, port);
    expect(answer.name).toBe(lands);
    if ('original' in rest) expect(answer.original).toEqual(rest.original);
  });

  it('a connection made to the capture port directly has no original destination', async () => {
    const answer = await ask('app', '127.0.0.1', 15001);
    expect(answer.name).toBe('A-outbound');
    expect(answer.originalError).toMatch(/^original destination: the connection was not redirected/);
  });
});

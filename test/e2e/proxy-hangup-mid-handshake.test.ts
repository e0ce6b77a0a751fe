// A peer that hangs up in the middle of the TLS handshake is closed and counted
// (reason protocol) at once, not when the handshake timeout fires: its
// connection leaves tlsmesh_connections_active as soon as it is gone.
//
// Found by `tlsmesh demo`: the frontend sidecar's pin_mismatch refusal (it
// closes its dial to the backend mid-handshake) shows up on the backend as a
// `protocol` refusal only handshakeTimeoutSeconds (10 s) later, and the
// connection stays counted as active until then. The inbound listener's TLS
// side runs with allowHalfOpen, so the peer's FIN during the handshake is not
// noticed. Listeners now allow half-close only once a connection is admitted.
import { join } from 'node:path';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ca, identity, tempDir, writeSecret } from '../support/pki.js';
import { metric, startSidecar, tcpEcho, type SidecarHandle } from '../support/mesh.js';
import { eventually, freePorts, killAll } from '../support/processes.js';
import { PARTIAL_CLIENT_HELLO } from '../support/tls-client.js';

const TD = 'cluster.local';
const tmp = tempDir();
let side: SidecarHandle;
let echo: Awaited<ReturnType<typeof tcpEcho>>;
let port: number;

beforeAll(async () => {
  const root = await ca({ trustDomain: TD });
  await writeSecret(join(tmp.dir, 'id'), (await identity(root, `spiffe://${TD}/ns/default/sa/backend`)).files);
  echo = await tcpEcho();
  const [listen, admin] = await freePorts(2);
  port = listen!;
  side = await startSidecar(tmp.dir, 'side', {
    trustDomain: TD,
    // Long enough that "closed by the timeout" cannot pass for "closed at once".
    handshakeTimeoutSeconds: 120,
    identity: { dir: join(tmp.dir, 'id') },
    admin: { listen: `127.0.0.1:${admin}` },
    inbound: [{ listen: `127.0.0.1:${port}`, forward: `127.0.0.1:${echo.port}` }],
  });
});

afterAll(async () => {
  await killAll();
  await echo?.close();
  tmp.cleanup();
});

const active = async () => metric(await side.metrics(), 'tlsmesh_connections_active', { direction: 'inbound' }) ?? -1;
const protocol = async () => metric(await side.metrics(), 'tlsmesh_handshakes_total', { direction: 'inbound', result: 'error', reason: 'protocol' }) ?? -1;

describe('a peer hangs up mid-handshake', () => {
  it('is closed and counted at once, not at the handshake timeout', async () => {
    const [activeBefore, refusedBefore] = [await active(), await protocol()];
    const s = net.connect({ host: '127.0.0.1', port });
    await new Promise((r) => s.once('connect', r));
    s.write(PARTIAL_CLIENT_HELLO);
    await eventually(async () => (await active()) === activeBefore + 1, 'the connection counted as active');
    s.destroy(); // the peer is gone (FIN)
    await eventually(async () => (await protocol()) === refusedBefore + 1, 'the broken handshake counted as protocol', 10_000);
    expect(await active()).toBe(activeBefore);
  });
});

// accessLog: which requests and connections get a line. The same traffic goes
// through three sidecars (all, the default errors, off): a 200 and a 502 on
// http listeners, a refused and an accepted mTLS connection on a tcp listener.
// The log is read whole after SIGTERM (the proxy writes out what it has batched
// before it exits), so that a missing line is a fact, not a race.
import { once } from 'node:events';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ca, identity, leaf, tempDir, writeSecret, type Issued, type TestCa } from '../support/pki.js';
import { echoApp, httpGet, metric, startSidecar, type EchoApp } from '../support/mesh.js';
import { eventually, freePorts, killAll } from '../support/processes.js';
import { tryTls } from '../support/tls-client.js';

const TD = 'cluster.local';
const FRONTEND = `spiffe://${TD}/ns/default/sa/frontend`;
const tmp = tempDir();
let root: TestCa;
let client: Issued;
let app: EchoApp;

interface Line {
  event?: string;
  level?: string;
  code?: number;
  path?: string;
  result?: string;
  reason?: string;
  listener?: string;
}

beforeAll(async () => {
  root = await ca({ trustDomain: TD });
  const me = await identity(root, `spiffe://${TD}/ns/default/sa/backend`);
  await writeSecret(join(tmp.dir, 'id'), me.files);
  client = await leaf({ issuer: root, spiffeId: FRONTEND });
  app = await echoApp();
});

afterAll(async () => {
  await killAll();
  await app?.close();
  tmp.cleanup();
});

/** Runs the traffic through a sidecar with `accessLog` (undefined: the field left out), stops it, returns its log lines. */
async function linesWith(accessLog: string | undefined): Promise<Line[]> {
  const [ok, dead, tcp, admin, nobody] = await freePorts(5);
  const side = await startSidecar(tmp.dir, `access-${accessLog ?? 'default'}`, {
    trustDomain: TD,
    ...(accessLog ? { accessLog } : {}),
    identity: { dir: join(tmp.dir, 'id') },
    admin: { listen: `127.0.0.1:${admin}` },
    inbound: [
      { name: 'ok', listen: `127.0.0.1:${ok}`, forward: `127.0.0.1:${app.port}`, protocol: 'http', tls: 'permissive' },
      // Nothing listens on `nobody`: every request here is a 502.
      { name: 'dead', listen: `127.0.0.1:${dead}`, forward: `127.0.0.1:${nobody}`, protocol: 'http', tls: 'permissive' },
      { name: 'tcp', listen: `127.0.0.1:${tcp}`, forward: `127.0.0.1:${app.port}`, protocol: 'tcp', allow: [FRONTEND] },
    ],
  });
  expect((await httpGet(`http://127.0.0.1:${ok}/fine`)).status).toBe(200);
  expect((await httpGet(`http://127.0.0.1:${dead}/broken`)).status).toBe(502);
  expect((await tryTls({ port: tcp!, ca: root.certPem })).data).toBe('');
  const accepted = await tryTls({ port: tcp!, ca: root.certPem, cert: client.certPem, key: client.key.privatePem, send: 'GET / HTTP/1.1\r\nHost: app\r\nConnection: close\r\n\r\n' });
  expect(accepted.data).toMatch(/^HTTP\/1\.1 200 /);
  // Every connection's close (where its line is written) has been seen by the proxy.
  await eventually(async () => metric(await side.metrics(), 'tlsmesh_connections_active', { direction: 'inbound' }) === 0, 'inbound connections closed');
  const closed = once(side.proc.child, 'close');
  side.proc.kill('SIGTERM');
  await closed;
  return side.proc
    .stdout()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Line);
}

const requests = (lines: Line[]) => lines.filter((l) => l.event === 'request').map((l) => `${l.listener} ${l.path} ${l.code}`).sort();
const connections = (lines: Line[]) => lines.filter((l) => l.event === 'connection').map((l) => `${l.listener} ${l.result}`).sort();
const refusals = (lines: Line[]) => lines.filter((l) => l.event === 'handshake' && l.result === 'refused').map((l) => `${l.level} ${l.reason}`);

describe('accessLog', () => {
  it('all: a line for every request and every connection', async () => {
    const lines = await linesWith('all');
    expect(requests(lines)).toEqual(['dead /broken 502', 'ok /fine 200']);
    expect(connections(lines)).toEqual(['dead plaintext', 'ok plaintext', 'tcp ok', 'tcp refused']);
    expect(refusals(lines)).toEqual(['warn no_peer_cert']);
  });

  it('errors (the default): only the 502 and the refused connection', async () => {
    const lines = await linesWith(undefined);
    expect(requests(lines)).toEqual(['dead /broken 502']);
    expect(connections(lines)).toEqual(['tcp refused']);
    expect(refusals(lines)).toEqual(['warn no_peer_cert']);
    expect(await linesWith('errors').then((l) => [requests(l), connections(l)])).toEqual([['dead /broken 502'], ['tcp refused']]);
  });

  it('off: no access lines, the refusal is still a warning', async () => {
    const lines = await linesWith('off');
    expect(requests(lines)).toEqual([]);
    expect(connections(lines)).toEqual([]);
    expect(refusals(lines)).toEqual(['warn no_peer_cert']);
    // The log itself works: the start and the drain are there.
    expect(lines.some((l) => l.event === 'stopped')).toBe(true);
  });
});

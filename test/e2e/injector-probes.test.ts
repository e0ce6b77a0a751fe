// Probes kept working under mTLS: the injector rewrites a pod's httpGet,
// and tcpSocket probes to the sidecar's admin port; a real `tlsmesh
// proxy` running the generated config answers them the way the app does, so
// kubelet (played here by plain HTTP GETs on the rewritten paths) sees the
// app's health, and not the sidecar's.
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultInjectorConfig } from '../../injector/src/config.js';
import type { Probe } from '../../injector/src/k8s.js';
import { injectPod } from '../../injector/src/sidecar.js';
import { container, pod } from '../../injector/src/testing/builders.js';
import { generatedProxyConfig, localize } from '../../injector/src/testing/local-sidecar.js';
import { httpGet, startSidecar, type SidecarHandle } from '../support/mesh.js';
import { ca, identity, tempDir, writeSecret } from '../support/pki.js';
import { freePorts, killAll } from '../support/processes.js';

let healthy = true;
let app: http.Server;
let tcp: net.Server;
let sidecar: SidecarHandle;
let probes: { livenessProbe: Probe; readinessProbe: Probe; startupProbe: Probe };
const { dir, cleanup } = tempDir('tlsmesh-probes-');

beforeAll(async () => {
  app = http.createServer((req, res) => {
    if (req.url === '/healthz') res.writeHead(healthy ? 200 : 500).end();
    else if (req.url === '/startz' && req.headers['x-probe'] === 'startup') res.writeHead(204).end();
    else res.writeHead(404).end();
  });
  app.listen(0, '127.0.0.1');
  await once(app, 'listening');
  tcp = net.createServer((s) => s.end());
  tcp.listen(0, '127.0.0.1');
  await once(tcp, 'listening');
  const appPort = (app.address() as net.AddressInfo).port;
  const tcpPort = (tcp.address() as net.AddressInfo).port;

  const injected = injectPod(
    pod({
      name: 'api-0',
      namespace: 'shop',
      serviceAccountName: 'api',
      containers: [
        container('api', {
          ports: [{ name: 'http', containerPort: appPort }, { name: 'raw', containerPort: tcpPort }],
          livenessProbe: { httpGet: { path: '/healthz', port: 'http' }, periodSeconds: 5 },
          readinessProbe: { tcpSocket: { port: 'raw' } },
          startupProbe: { httpGet: { path: '/startz', port: appPort, httpHeaders: [{ name: 'X-Probe', value: 'startup' }] } },
        }),
      ],
    }),
    { config: defaultInjectorConfig(), namespace: 'shop' },
  ).pod;
  const c = injected.spec!.containers[0]!;
  probes = { livenessProbe: c.livenessProbe!, readinessProbe: c.readinessProbe!, startupProbe: c.startupProbe! };

  const root = await ca({ trustDomain: 'cluster.local' });
  const id = await identity(root, 'spiffe://cluster.local/ns/shop/sa/api');
  await writeSecret(`${dir}/identity`, id.files);
  const [adminPort, inboundPort] = await freePorts(2);
  sidecar = await startSidecar(dir, 'api', localize(generatedProxyConfig(injected), { adminPort: adminPort!, inboundPort: inboundPort!, appPort, identityDir: `${dir}/identity` }));
}, 60_000);

afterAll(async () => {
  await killAll();
  app?.close();
  tcp?.close();
  cleanup();
});

/** What kubelet does with a rewritten probe: GET its path on the admin port. */
const kubelet = (p: Probe) => httpGet(`${sidecar.admin}${p.httpGet!.path}`, { 'user-agent': 'kube-probe/1.31' });

describe('rewritten probes answered by a real sidecar', () => {
  it('points every probe at the admin port', () => {
    expect(probes.livenessProbe).toEqual({ httpGet: { path: '/app-health/api/livez', port: 15020, scheme: 'HTTP' }, periodSeconds: 5 });
    expect(probes.readinessProbe.httpGet!.path).toBe('/app-health/api/readyz');
    expect(probes.startupProbe.httpGet!.path).toBe('/app-health/api/startupz');
  });

  it('answers 200 while the app is healthy (httpGet on a named port, tcpSocket, headers passed)', async () => {
    expect((await kubelet(probes.livenessProbe)).status).toBe(200);
    expect((await kubelet(probes.readinessProbe)).status).toBe(200);
    expect((await kubelet(probes.startupProbe)).status).toBe(200);
  });

  it("follows the app: its 500 is the probe's 500, and back", async () => {
    healthy = false;
    const down = await kubelet(probes.livenessProbe);
    expect([down.status, down.body]).toEqual([500, 'app answered 500\n']);
    healthy = true;
    expect((await kubelet(probes.livenessProbe)).status).toBe(200);
  });

  it('fails the tcpSocket probe when the app stops listening', async () => {
    await new Promise<void>((r) => tcp.close(() => r()));
    const r = await kubelet(probes.readinessProbe);
    expect(r.status).toBe(503);
    expect(r.body).toMatch(/ECONNREFUSED/);
  });

  it('is not the sidecar health: an unknown probe path is 404', async () => {
    expect((await httpGet(`${sidecar.admin}/app-health/other/livez`)).status).toBe(404);
  });
});

// Start the mesh as separate processes: the two apps and the two sidecars at
// once (a sidecar without an identity yet runs and waits, as in a pod), then
// the dev CA and one `tlsmesh ca issue --renew` per identity, which writes the
// first certificate at once and renews it at 2/3 of its lifetime.
import { writeFile } from 'node:fs/promises';
import { programFile } from '../program-files.js';
import type { Children } from './children.js';
import { sidecarConfigs, SPIFFE_IDS, TRUST_DOMAIN, WORKLOADS, FRONTEND_ID, type Layout, type Ports, type Workload } from './topology.js';

const script = (name: string) => programFile(`demo/${name}.js`, `${name}.mjs`);

/** Child process names, as the view and the error messages call them. */
export const PROC = {
  app: (w: Workload) => `${w} app`,
  sidecar: (w: Workload) => `${w} sidecar`,
  renewer: (w: Workload) => `${w} renewer`,
};

export async function startWorkloads(children: Children, layout: Layout, ports: Ports, otherPin: string): Promise<void> {
  const configs = sidecarConfigs(layout, ports, otherPin);
  // JSON is YAML: no YAML library to load on the way to the first screen.
  await Promise.all(WORKLOADS.map((w) => writeFile(layout.configFile[w], `${JSON.stringify(configs[w], null, 2)}\n`)));
  children.startNode(PROC.app('backend'), [String(ports.backendApp)], script('backend-app'));
  children.startNode(PROC.sidecar('backend'), ['proxy', '--config', layout.configFile.backend]);
  children.startNode(PROC.sidecar('frontend'), ['proxy', '--config', layout.configFile.frontend]);
  children.startNode(PROC.app('frontend'), [String(ports.frontendApp), String(ports.frontendOut), FRONTEND_ID], script('frontend-app'));
}

/** Create the dev CA in-process (the demo needs its key for the attacker anyway). */
export async function createCa(layout: Layout): Promise<void> {
  const { initCa } = await import('../ca/dev-ca.js');
  await initCa(layout.caDir, TRUST_DOMAIN);
}

export function startRenewers(children: Children, layout: Layout, ttlMs: Record<Workload, number>): void {
  for (const w of WORKLOADS) {
    children.startNode(PROC.renewer(w), ['ca', 'issue', '--ca', layout.caDir, '--spiffe-id', SPIFFE_IDS[w], '--out', layout.secretDir[w], '--ttl', `${ttlMs[w]}ms`, '--dns', `${w}.default.svc`, '--renew']);
  }
}

/** `issued ID serial S notAfter T to DIR`, as `tlsmesh ca issue` prints it. */
export function parseIssuedLine(line: string): { spiffeId: string; serial: string; notAfter: string } | undefined {
  const m = /^issued (\S+) serial ([0-9a-f]+) notAfter (\S+) to /.exec(line);
  return m ? { spiffeId: m[1]!, serial: m[2]!, notAfter: m[3]! } : undefined;
}

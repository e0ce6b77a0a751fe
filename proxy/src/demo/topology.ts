// What `tlsmesh demo` runs, as data: the identities, the ports, the paths in
// the work directory and the two sidecar configs. Pure: no I/O here.
import { join } from 'node:path';

export const TRUST_DOMAIN = 'demo.local';
export const FRONTEND_ID = `spiffe://${TRUST_DOMAIN}/ns/default/sa/frontend`;
export const BACKEND_ID = `spiffe://${TRUST_DOMAIN}/ns/default/sa/backend`;
/** A real SVID of the demo CA that the backend does not allow. */
export const INTRUDER_ID = `spiffe://${TRUST_DOMAIN}/ns/default/sa/intruder`;

export type Workload = 'frontend' | 'backend';
export const WORKLOADS: readonly Workload[] = ['frontend', 'backend'];
export const SPIFFE_IDS: Record<Workload, string> = { frontend: FRONTEND_ID, backend: BACKEND_ID };

/** Every port the demo listens on, in the order `--base-port N` hands them out (N, N+1, ...). */
export const PORT_NAMES = ['frontendAdmin', 'backendAdmin', 'frontendApp', 'frontendOut', 'frontendPinned', 'backendIn', 'backendApp'] as const;
export type PortName = (typeof PORT_NAMES)[number];
export type Ports = Record<PortName, number>;

export const PORT_ROLES: Record<PortName, string> = {
  frontendAdmin: 'frontend sidecar admin',
  backendAdmin: 'backend sidecar admin',
  frontendApp: 'frontend app',
  frontendOut: 'frontend sidecar outbound',
  frontendPinned: 'frontend sidecar outbound (pinned)',
  backendIn: 'backend sidecar inbound (mTLS)',
  backendApp: 'backend app',
};

export function portsFrom(list: readonly number[]): Ports {
  const ports = {} as Ports;
  PORT_NAMES.forEach((name, i) => {
    const p = list[i];
    if (p === undefined) throw new RangeError(`demo: no port for ${name}`);
    ports[name] = p;
  });
  return ports;
}

export function portsFromBase(base: number): Ports {
  return portsFrom(PORT_NAMES.map((_, i) => base + i));
}

export interface Layout {
  dir: string;
  caDir: string;
  secretDir: Record<Workload, string>;
  configFile: Record<Workload, string>;
}

export function layoutOf(dir: string): Layout {
  return {
    dir,
    caDir: join(dir, 'ca'),
    secretDir: { frontend: join(dir, 'frontend'), backend: join(dir, 'backend') },
    configFile: { frontend: join(dir, 'frontend.yaml'), backend: join(dir, 'backend.yaml') },
  };
}

const at = (port: number) => `127.0.0.1:${port}`;

/**
 * The two sidecars. `otherPin` is the SPKI pin of a key that is in no chain
 * of the demo: the pinned outbound listener must refuse the real backend.
 */
export function sidecarConfigs(layout: Layout, ports: Ports, otherPin: string): Record<Workload, Record<string, unknown>> {
  const common = { trustDomain: TRUST_DOMAIN, drainSeconds: 1 };
  return {
    frontend: {
      ...common,
      identity: { dir: layout.secretDir.frontend },
      admin: { listen: at(ports.frontendAdmin) },
      outbound: [
        { name: 'to-backend', listen: at(ports.frontendOut), connect: at(ports.backendIn), protocol: 'http', expect: [BACKEND_ID] },
        { name: 'to-backend-pinned', listen: at(ports.frontendPinned), connect: at(ports.backendIn), protocol: 'http', expect: [BACKEND_ID], pins: [otherPin] },
      ],
    },
    backend: {
      ...common,
      identity: { dir: layout.secretDir.backend },
      admin: { listen: at(ports.backendAdmin) },
      inbound: [{ name: 'from-mesh', listen: at(ports.backendIn), forward: at(ports.backendApp), protocol: 'http', tls: 'mutual', allow: [FRONTEND_ID] }],
    },
  };
}

export interface Urls {
  admin: Record<Workload, string>;
  frontendApp: string;
}

export function urlsOf(ports: Ports): Urls {
  return {
    admin: { frontend: `http://${at(ports.frontendAdmin)}`, backend: `http://${at(ports.backendAdmin)}` },
    frontendApp: `http://${at(ports.frontendApp)}`,
  };
}

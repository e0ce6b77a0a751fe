// The transparent-capture NAT rules as data, one family at a time. Pure. Every
// rule is written the way iptables-save prints it back, so what `--dry-run`
// shows is exactly what `iptables-save -t nat` lists after `tlsmesh init`.
//
//   PREROUTING -p tcp -> TLSMESH_INBOUND
//     RETURN for the admin port and --exclude-inbound-ports
//     -> TLSMESH_IN_REDIRECT (every port, or only --inbound-ports)
//   TLSMESH_IN_REDIRECT: REDIRECT --to-ports <inbound-port>
//   OUTPUT -p tcp -> TLSMESH_OUTPUT
//     RETURN for the proxy's uid (its own connections, and the inbound side's
//       connections to the app on 127.0.0.1: never captured again)
//     RETURN for anything leaving through lo (127.0.0.0/8, ::1 and the pod's own
//       addresses: the app calling the sidecar or itself stays in the pod)
//     RETURN for --exclude-outbound-ports and --exclude-outbound-cidrs
//     -> TLSMESH_REDIRECT: REDIRECT --to-ports <outbound-port>
import type { CaptureOptions } from './options.js';

export type Family = 4 | 6;

export const CHAIN = {
  inbound: 'TLSMESH_INBOUND',
  inRedirect: 'TLSMESH_IN_REDIRECT',
  output: 'TLSMESH_OUTPUT',
  redirect: 'TLSMESH_REDIRECT',
} as const;

/** Every chain tlsmesh owns starts with this; `--clean` removes all of them. */
export const CHAIN_PREFIX = 'TLSMESH_';

export interface RuleSet {
  family: Family;
  /** The chains tlsmesh owns, created (or flushed) on every run. */
  chains: readonly string[];
  /** `-A <own chain> ...` lines, in order. */
  rules: readonly string[];
  /** `-A PREROUTING|OUTPUT ... -j <own chain>` lines: present exactly once. */
  jumps: readonly string[];
}

const dport = (port: number) => `-p tcp -m tcp --dport ${port}`;

export function buildRules(o: CaptureOptions, family: Family): RuleSet {
  const inbound = [
    ...o.excludeInboundPorts.map((p) => `-A ${CHAIN.inbound} ${dport(p)} -j RETURN`),
    ...(o.inboundPorts === 'all'
      ? [`-A ${CHAIN.inbound} -p tcp -j ${CHAIN.inRedirect}`]
      : o.inboundPorts.filter((p) => !o.excludeInboundPorts.includes(p)).map((p) => `-A ${CHAIN.inbound} ${dport(p)} -j ${CHAIN.inRedirect}`)),
  ];
  const output = [
    `-A ${CHAIN.output} -m owner --uid-owner ${o.proxyUid} -j RETURN`,
    `-A ${CHAIN.output} -o lo -j RETURN`,
    ...o.excludeOutboundPorts.map((p) => `-A ${CHAIN.output} ${dport(p)} -j RETURN`),
    ...o.excludeOutboundCidrs.filter((c) => c.family === family).map((c) => `-A ${CHAIN.output} -d ${c.text} -j RETURN`),
    `-A ${CHAIN.output} -j ${CHAIN.redirect}`,
  ];
  return Object.freeze({
    family,
    chains: Object.freeze([CHAIN.inbound, CHAIN.inRedirect, CHAIN.output, CHAIN.redirect]),
    rules: Object.freeze([
      ...inbound,
      `-A ${CHAIN.inRedirect} -p tcp -j REDIRECT --to-ports ${o.inboundPort}`,
      ...output,
      `-A ${CHAIN.redirect} -p tcp -j REDIRECT --to-ports ${o.outboundPort}`,
    ]),
    jumps: Object.freeze([`-A PREROUTING -p tcp -j ${CHAIN.inbound}`, `-A OUTPUT -p tcp -j ${CHAIN.output}`]),
  });
}

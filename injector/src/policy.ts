// Whether a pod gets the sidecar: a chain of small named checks, each returning
// a reason to skip or nothing. The first reason wins; no reason means inject.
import type { InjectorConfig } from './config.js';
import { InjectError } from './errors.js';
import type { PodLike } from './k8s.js';
import { isObject } from './k8s.js';
import { ANNOTATION, NAMESPACE_LABEL, PROXY_CONTAINER } from './names.js';

/** Bounded: these are the `reason` label values of tlsmesh_injector_skipped_total. */
export type SkipReason = 'ignored_namespace' | 'host_network' | 'already_injected' | 'pod_opt_out' | 'namespace_disabled' | 'not_opted_in';

export type Decision = { inject: true } | { inject: false; reason: SkipReason; detail: string };

/**
 * What is known of the pod's namespace. The webhook learns the label from the
 * webhook configuration that called it (see docs/injector.md); `tlsmesh inject`
 * treats every namespace as enabled, as `istioctl kube-inject` does.
 */
export interface NamespaceInfo {
  name: string;
  labels: Readonly<Record<string, string>>;
}

type Check = (pod: PodLike, ns: NamespaceInfo, cfg: InjectorConfig, podWants: boolean | undefined) => Decision | undefined;

const skip = (reason: SkipReason, detail: string): Decision => ({ inject: false, reason, detail });

const ignoredNamespace: Check = (_pod, ns, cfg) =>
  cfg.ignoredNamespaces.includes(ns.name) ? skip('ignored_namespace', `namespace ${ns.name} is never injected`) : undefined;

const hostNetwork: Check = (pod) => (pod.spec?.hostNetwork === true ? skip('host_network', 'the pod uses the host network') : undefined);

const alreadyInjected: Check = (pod) => {
  if (pod.metadata?.annotations?.[ANNOTATION.status] !== undefined) return skip('already_injected', `the pod has ${ANNOTATION.status}`);
  const all = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])];
  return all.some((c) => isObject(c) && c.name === PROXY_CONTAINER) ? skip('already_injected', `the pod has a ${PROXY_CONTAINER} container`) : undefined;
};

const podOptOut: Check = (_pod, _ns, _cfg, podWants) => (podWants === false ? skip('pod_opt_out', `${ANNOTATION.inject}: "false"`) : undefined);

const namespaceDisabled: Check = (_pod, ns) =>
  ns.labels[NAMESPACE_LABEL] === 'disabled' ? skip('namespace_disabled', `namespace ${ns.name} is labelled ${NAMESPACE_LABEL}=disabled`) : undefined;

const podOptIn: Check = (_pod, _ns, _cfg, podWants) => (podWants === true ? { inject: true } : undefined);

const namespaceEnabled: Check = (_pod, ns) => (ns.labels[NAMESPACE_LABEL] === 'enabled' ? { inject: true } : undefined);

const CHECKS: readonly Check[] = [ignoredNamespace, hostNetwork, alreadyInjected, podOptOut, namespaceDisabled, podOptIn, namespaceEnabled];

export function shouldInject(pod: PodLike, ns: NamespaceInfo, cfg: InjectorConfig): Decision {
  const podWants = podInjectAnnotation(pod);
  for (const check of CHECKS) {
    const d = check(pod, ns, cfg, podWants);
    if (d) return d;
  }
  return skip('not_opted_in', `neither the pod (${ANNOTATION.inject}: "true") nor its namespace (${NAMESPACE_LABEL}=enabled) opted in`);
}

function podInjectAnnotation(pod: PodLike): boolean | undefined {
  const v = pod.metadata?.annotations?.[ANNOTATION.inject];
  if (v === undefined) return undefined;
  if (v === 'true') return true;
  if (v === 'false') return false;
  throw new InjectError([`${ANNOTATION.inject}: expected "true" or "false", got ${JSON.stringify(v)}`]);
}

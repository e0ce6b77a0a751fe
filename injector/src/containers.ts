// The two containers and the volumes injection adds, built from settings that
// config and annotations have already been merged into (see sidecar.ts).
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IVolume } from 'kubernetes-models/v1/Volume';
import type { IResourceRequirements } from 'kubernetes-models/v1/ResourceRequirements';
import { ADMIN_PORT, INBOUND_CAPTURE_PORT, OUTBOUND_CAPTURE_PORT, PROXY_GID, PROXY_UID } from '../../proxy/src/defaults.js';
import {
  ADMIN_PORT_NAME,
  ANNOTATION,
  BUNDLE_FILE,
  BUNDLE_MOUNT_PATH,
  BUNDLE_VOLUME,
  CONFIG_FILE,
  CONFIG_MOUNT_PATH,
  CONFIG_VOLUME,
  IDENTITY_VOLUME,
  INIT_CONTAINER,
  PROXY_CONTAINER,
} from './names.js';

export interface Settings {
  mode: 'native' | 'container';
  image: string;
  initImage: string;
  imagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
  resources: IResourceRequirements;
  initResources: IResourceRequirements;
  readyTimeoutSeconds: number;
  identityMountPath: string;
  identity: { source: 'secret'; secretName: string } | { source: 'csi'; driver: string; volumeAttributes?: Record<string, string> };
  trustBundle?: { configMap: string; key: string };
  capture: {
    inboundPorts: 'all' | readonly number[];
    excludeInboundPorts: readonly number[];
    excludeOutboundPorts: readonly number[];
    excludeOutboundCidrs: readonly string[];
  };
}

const list = (xs: readonly (number | string)[]) => xs.join(',');

/** `tlsmesh init` with the contract's flags; empty exclusions are left out. */
export function initArgs(c: Settings['capture']): string[] {
  const args = ['init', '--inbound-port', String(INBOUND_CAPTURE_PORT), '--outbound-port', String(OUTBOUND_CAPTURE_PORT), '--proxy-uid', String(PROXY_UID)];
  args.push('--inbound-ports', c.inboundPorts === 'all' ? 'all' : list(c.inboundPorts));
  if (c.excludeInboundPorts.length) args.push('--exclude-inbound-ports', list(c.excludeInboundPorts));
  if (c.excludeOutboundPorts.length) args.push('--exclude-outbound-ports', list(c.excludeOutboundPorts));
  if (c.excludeOutboundCidrs.length) args.push('--exclude-outbound-cidrs', list(c.excludeOutboundCidrs));
  return args;
}

/** The init step: root with NET_ADMIN and NET_RAW only, to write the NAT rules of the pod's network namespace. */
export function initContainer(s: Settings): IContainer {
  return {
    name: INIT_CONTAINER,
    image: s.initImage,
    ...(s.imagePullPolicy ? { imagePullPolicy: s.imagePullPolicy } : {}),
    args: initArgs(s.capture),
    resources: s.initResources,
    securityContext: {
      runAsUser: 0,
      runAsGroup: 0,
      runAsNonRoot: false,
      privileged: false,
      allowPrivilegeEscalation: false,
      // iptables takes its lock under /run: the init step needs a writable root.
      readOnlyRootFilesystem: false,
      capabilities: { add: ['NET_ADMIN', 'NET_RAW'], drop: ['ALL'] },
    },
  };
}

const fieldEnv = (name: string, fieldPath: string) => ({ name, valueFrom: { fieldRef: { fieldPath } } });
const adminGet = (path: string) => ({ path, port: ADMIN_PORT, scheme: 'HTTP' as const });

export function proxyContainer(s: Settings): IContainer {
  return {
    name: PROXY_CONTAINER,
    image: s.image,
    ...(s.imagePullPolicy ? { imagePullPolicy: s.imagePullPolicy } : {}),
    args: ['proxy', '--config', `${CONFIG_MOUNT_PATH}/${CONFIG_FILE}`],
    env: [fieldEnv('POD_NAME', 'metadata.name'), fieldEnv('POD_NAMESPACE', 'metadata.namespace'), fieldEnv('SERVICE_ACCOUNT', 'spec.serviceAccountName')],
    ports: [{ name: ADMIN_PORT_NAME, containerPort: ADMIN_PORT, protocol: 'TCP' }],
    resources: s.resources,
    volumeMounts: [
      { name: IDENTITY_VOLUME, mountPath: s.identityMountPath, readOnly: true },
      { name: CONFIG_VOLUME, mountPath: CONFIG_MOUNT_PATH, readOnly: true },
      ...(s.trustBundle ? [{ name: BUNDLE_VOLUME, mountPath: BUNDLE_MOUNT_PATH, readOnly: true }] : []),
    ],
    securityContext: {
      runAsUser: PROXY_UID,
      runAsGroup: PROXY_GID,
      runAsNonRoot: true,
      privileged: false,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    },
    // A native sidecar's startup probe holds the containers after it until the proxy is ready.
    startupProbe: { httpGet: adminGet('/healthz/ready'), periodSeconds: 1, timeoutSeconds: 3, failureThreshold: 600 },
    readinessProbe: { httpGet: adminGet('/healthz/ready'), periodSeconds: 5, timeoutSeconds: 3, failureThreshold: 3 },
    livenessProbe: { httpGet: adminGet('/healthz/live'), periodSeconds: 10, timeoutSeconds: 3, failureThreshold: 3 },
    ...(s.mode === 'native'
      ? { restartPolicy: 'Always' }
      : // A regular first container: kubelet starts the next container only after postStart returns.
        { lifecycle: { postStart: { exec: { command: ['tlsmesh', 'wait-ready', '--timeout', `${s.readyTimeoutSeconds}s`] } } } }),
  };
}

export function volumes(s: Settings): IVolume[] {
  const identity: IVolume =
    s.identity.source === 'secret'
      ? { name: IDENTITY_VOLUME, secret: { secretName: s.identity.secretName } }
      : {
          name: IDENTITY_VOLUME,
          csi: { driver: s.identity.driver, readOnly: true, ...(s.identity.volumeAttributes ? { volumeAttributes: { ...s.identity.volumeAttributes } } : {}) },
        };
  const config: IVolume = {
    name: CONFIG_VOLUME,
    downwardAPI: { items: [{ path: CONFIG_FILE, fieldRef: { fieldPath: `metadata.annotations['${ANNOTATION.proxyConfig}']` } }] },
  };
  const bundle: IVolume[] = s.trustBundle
    ? [{ name: BUNDLE_VOLUME, configMap: { name: s.trustBundle.configMap, items: [{ key: s.trustBundle.key, path: BUNDLE_FILE }] } }]
    : [];
  return [identity, config, ...bundle];
}

export const TRUST_BUNDLE_PATH = `${BUNDLE_MOUNT_PATH}/${BUNDLE_FILE}`;

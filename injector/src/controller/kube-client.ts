// The thin shell between the controller and the API server, on
// @kubernetes/client-node: list and watch three resources, write Certificates.
// Nothing here decides anything.
import type { KubeConfig } from '@kubernetes/client-node';
import { MANAGED_SELECTOR } from './names.js';
import type { ListWatchClient, WatchHandle } from './reflector.js';
import type { Certificate, Namespace, ServiceAccount } from './types.js';

const CM = { group: 'cert-manager.io', version: 'v1', plural: 'certificates' } as const;
const FIELD_MANAGER = 'tlsmesh-controller';

export interface CertificateWriter {
  create(cert: Certificate): Promise<Certificate>;
  /** Update with the resourceVersion the object carries (409 when stale). */
  replace(cert: Certificate): Promise<Certificate>;
  delete(namespace: string, name: string): Promise<void>;
}

export interface KubeClients {
  namespaces: ListWatchClient<Namespace>;
  serviceAccounts: ListWatchClient<ServiceAccount>;
  certificates: ListWatchClient<Certificate>;
  writer: CertificateWriter;
}

/** The library itself, passed in: `tlsmesh controller` loads it when it starts (proxy/src/cli/controller.ts), so that no other command pays for it. */
export type KubeLibrary = typeof import('@kubernetes/client-node');

export function kubeClients(k8s: KubeLibrary, kc: KubeConfig): KubeClients {
  const { CoreV1Api, CustomObjectsApi, Watch } = k8s;
  const core = kc.makeApiClient(CoreV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);
  const watcher = new Watch(kc);
  const watch = (path: string, labelSelector?: string): ListWatchClient<never>['watch'] => async (resourceVersion, timeoutSeconds, onEvent) => {
    let settle!: (err: Error | null) => void;
    const done = new Promise<Error | null>((resolve) => (settle = resolve));
    const query = { resourceVersion, timeoutSeconds, allowWatchBookmarks: true, ...(labelSelector ? { labelSelector } : {}) };
    const controller = await watcher.watch(path, query, (type, object) => onEvent({ type, object }), (err: unknown) => settle(err ? toError(err) : null));
    const handle: WatchHandle = { done, abort: () => controller.abort() };
    return handle;
  };
  return {
    namespaces: {
      resource: 'namespaces',
      list: async () => {
        const l = await core.listNamespace();
        return { items: l.items as Namespace[], resourceVersion: l.metadata?.resourceVersion ?? '' };
      },
      watch: watch('/api/v1/namespaces'),
    },
    serviceAccounts: {
      resource: 'serviceaccounts',
      list: async () => {
        const l = await core.listServiceAccountForAllNamespaces();
        return { items: l.items as ServiceAccount[], resourceVersion: l.metadata?.resourceVersion ?? '' };
      },
      watch: watch('/api/v1/serviceaccounts'),
    },
    certificates: {
      resource: 'certificates.cert-manager.io',
      list: async () => {
        const l = (await custom.listClusterCustomObject({ ...CM, labelSelector: MANAGED_SELECTOR })) as { items: Certificate[]; metadata?: { resourceVersion?: string } };
        return { items: l.items, resourceVersion: l.metadata?.resourceVersion ?? '' };
      },
      watch: watch(`/apis/${CM.group}/${CM.version}/${CM.plural}`, MANAGED_SELECTOR),
    },
    writer: {
      create: async (cert) =>
        (await custom.createNamespacedCustomObject({ ...CM, namespace: cert.metadata.namespace!, body: cert, fieldManager: FIELD_MANAGER })) as Certificate,
      replace: async (cert) =>
        (await custom.replaceNamespacedCustomObject({ ...CM, namespace: cert.metadata.namespace!, name: cert.metadata.name, body: cert, fieldManager: FIELD_MANAGER })) as Certificate,
      delete: async (namespace, name) => {
        await custom.deleteNamespacedCustomObject({ ...CM, namespace, name });
      },
    },
  };
}

function toError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/** `HTTP 409 AlreadyExists: certificates.cert-manager.io "x" already exists` from any client-node error. */
export function describeApiError(err: unknown): string {
  const e = err as { code?: unknown; statusCode?: unknown; body?: unknown; message?: string };
  const code = typeof e?.code === 'number' ? e.code : typeof e?.statusCode === 'number' ? e.statusCode : undefined;
  let body: { reason?: string; message?: string } | undefined;
  if (typeof e?.body === 'string') {
    try {
      body = JSON.parse(e.body) as { reason?: string; message?: string };
    } catch {
      body = { message: e.body };
    }
  } else if (e?.body && typeof e.body === 'object') {
    body = e.body as { reason?: string; message?: string };
  }
  if (code !== undefined) return `HTTP ${code}${body?.reason ? ` ${body.reason}` : ''}: ${body?.message ?? e.message?.split('\n')[0] ?? 'error'}`;
  return (e?.message ?? String(err)).split('\n')[0] ?? 'error';
}

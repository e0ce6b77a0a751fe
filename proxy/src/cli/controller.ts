// `tlsmesh controller --config FILE [--kubeconfig FILE]`: keep a cert-manager
// Certificate for every ServiceAccount whose pods the injector gives a sidecar.
// Loads the config (its own file, which names the injector's), connects to the
// API server (in-cluster, KUBECONFIG, or --kubeconfig), serves /healthz and
// /metrics, runs until SIGTERM/SIGINT.
import { createRequire } from 'node:module';
import type { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { loadInjectorConfig } from '../../../injector/src/config.js';
import { startAdminServer } from '../../../injector/src/controller/admin.js';
import { systemClock } from '../../../injector/src/controller/clock.js';
import { loadControllerConfig, type SharedSettings } from '../../../injector/src/controller/config.js';
import { CertificateController } from '../../../injector/src/controller/controller.js';
import { kubeClients, type KubeLibrary } from '../../../injector/src/controller/kube-client.js';
import { ControllerMetrics } from '../../../injector/src/controller/metrics.js';
import { UsageError } from '../errors.js';
import { parseFlags, required } from './args.js';

/**
 * @kubernetes/client-node, loaded when the controller starts and by no other
 * command, with require(): the shipped program runs through vm.Script, where
 * import() has no loader (proxy/src/code-cache.ts). The package is an ES
 * module, which Node >= 20.19 loads with require() too.
 */
function loadKubeLibrary(): KubeLibrary {
  return createRequire(import.meta.url)('@kubernetes/client-node') as KubeLibrary;
}

export function sharedFromInjector(file: string): SharedSettings {
  const c = loadInjectorConfig(file);
  return { trustDomain: c.trustDomain, secretNameTemplate: c.identity.secretNameTemplate, ignoredNamespaces: c.ignoredNamespaces, identitySource: c.identity.source };
}

function kubeConfig(k8s: KubeLibrary, file: string | undefined): KubeConfig {
  const kc = new k8s.KubeConfig();
  try {
    if (file !== undefined) kc.loadFromFile(file);
    else kc.loadFromDefault();
  } catch (err) {
    throw new UsageError(`controller: --kubeconfig: cannot load ${file}: ${(err as Error).message.split('\n')[0]}`, { cause: err });
  }
  if (!kc.getCurrentCluster()) throw new UsageError('controller: no Kubernetes cluster to talk to: run in a pod, or set KUBECONFIG or --kubeconfig');
  return kc;
}

export async function run(args: string[]): Promise<number> {
  const { values } = parseFlags('controller', args, { config: { type: 'string' }, kubeconfig: { type: 'string' } });
  const settings = loadControllerConfig(required('controller', 'config', values.config ?? process.env.TLSMESH_CONTROLLER_CONFIG), sharedFromInjector);
  const k8s = loadKubeLibrary();
  const kc = kubeConfig(k8s, values.kubeconfig);
  const { config, policy } = settings;
  const logger = pino({ name: 'tlsmesh-controller', level: config.logLevel, base: undefined });
  const registry = new Registry();
  const controller = new CertificateController({
    policy,
    clients: kubeClients(k8s, kc),
    clock: systemClock,
    random: Math.random,
    backoff: settings.backoff,
    resyncMs: config.resyncSeconds * 1000,
    watchTimeoutSeconds: config.watchTimeoutSeconds,
    log: logger,
    metrics: new ControllerMetrics(registry),
  });
  const admin = await startAdminServer(config.admin.listen, () => controller.synced, registry);
  if (!policy.issueCertificates) logger.warn({}, 'identity.source is csi: no Certificates are issued, and the ones this controller made are removed');
  controller.start();
  logger.info(
    { server: kc.getCurrentCluster()?.server, adminPort: admin.port, trustDomain: policy.trustDomain, secretNameTemplate: policy.secretNameTemplate, issuerRef: policy.issuerRef, duration: policy.duration, renewBefore: policy.renewBefore },
    'controller started',
  );

  return new Promise<number>((resolve) => {
    const stop = (signal: string) => {
      logger.info({ signal }, 'stopping');
      void Promise.all([controller.stop(), admin.close()]).then(() => resolve(0));
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}

// The certificate controller's metrics, declared once, on an injected registry.
// Every label takes values from a fixed set.
import { Counter, Gauge, type Registry } from 'prom-client';
import type { WatchEnd } from './reflector.js';

export type ActionKind = 'create' | 'update' | 'delete';
export type Resource = 'namespaces' | 'serviceaccounts' | 'certificates';

export class ControllerMetrics {
  readonly actions: Counter<'action' | 'result'>;
  readonly watchEnds: Counter<'resource' | 'how'>;
  readonly listErrors: Counter<'resource'>;
  readonly reconciles: Counter;
  readonly desired: Gauge;
  readonly managed: Gauge;
  readonly skipped: Gauge;
  readonly synced: Gauge;

  constructor(registry: Registry) {
    const registers = [registry];
    this.actions = new Counter({
      name: 'tlsmesh_controller_actions_total',
      help: 'Certificate writes, by action (create, update, delete) and result (ok, error)',
      labelNames: ['action', 'result'],
      registers,
    });
    this.watchEnds = new Counter({
      name: 'tlsmesh_controller_watch_restarts_total',
      help: 'Watches that ended and were restarted, by resource and how they ended (closed, expired = 410 Gone then a fresh list, error)',
      labelNames: ['resource', 'how'],
      registers,
    });
    this.listErrors = new Counter({ name: 'tlsmesh_controller_list_errors_total', help: 'Failed list calls, by resource', labelNames: ['resource'], registers });
    this.reconciles = new Counter({ name: 'tlsmesh_controller_reconciles_total', help: 'Reconcile passes over the whole cache', registers });
    this.desired = new Gauge({ name: 'tlsmesh_controller_certificates_desired', help: 'Certificates the controller wants to exist', registers });
    this.managed = new Gauge({ name: 'tlsmesh_controller_certificates_managed', help: 'Certificates carrying the managed-by label, as last seen', registers });
    this.skipped = new Gauge({
      name: 'tlsmesh_controller_service_accounts_skipped',
      help: 'ServiceAccounts in enabled namespaces that cannot get a Certificate (see the log for why)',
      registers,
    });
    this.synced = new Gauge({ name: 'tlsmesh_controller_synced', help: '1 once every cache has been listed', registers });
    for (const action of ['create', 'update', 'delete']) for (const result of ['ok', 'error']) this.actions.labels(action, result);
  }

  watchEnded(resource: Resource, how: WatchEnd): void {
    this.watchEnds.labels(resource, how).inc();
  }
}

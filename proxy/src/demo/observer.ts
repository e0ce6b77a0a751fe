// Look at the running mesh the way an operator would: each sidecar's
// /healthz/ready, /certs and /metrics, the apps' own endpoints. One poll reads
// everything in parallel and folds it into the state.
import { getJson, request } from './http-get.js';
import { parseMetrics } from './prom-text.js';
import { certsSeen, markUp, metricsSeen, trafficSeen, WATCHED_METRICS, type DemoState, type ServedCert, type TrafficStats } from './state.js';
import { WORKLOADS, type Ports, type Urls, type Workload } from './topology.js';

export class Observer {
  private busy = false;

  constructor(
    private readonly s: DemoState,
    private readonly ports: Ports,
    private readonly urls: Urls,
    private readonly now: () => number,
  ) {}

  /** One look at everything; a poll still running makes this a no-op. */
  async poll(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const [certs, metrics, ready, stats, backendApp] = await Promise.all([
        Promise.all(WORKLOADS.map((w) => getJson<ServedCert>(`${this.urls.admin[w]}/certs`))),
        Promise.all(WORKLOADS.map((w) => request(`${this.urls.admin[w]}/metrics`))),
        Promise.all(WORKLOADS.map((w) => (this.s.components[`${w} sidecar`] === 'starting' ? request(`${this.urls.admin[w]}/healthz/ready`) : undefined))),
        getJson<TrafficStats>(`${this.urls.frontendApp}/stats`),
        this.s.components['backend app'] === 'starting' ? request(`http://127.0.0.1:${this.ports.backendApp}/health`) : undefined,
      ]);
      this.s.now = this.now();
      WORKLOADS.forEach((w: Workload, i) => {
        const c = certs[i];
        if (c?.serialNumber) certsSeen(this.s, w, c);
        const m = metrics[i];
        if (m?.status === 200) metricsSeen(this.s, w, parseMetrics(m.body, (n) => WATCHED_METRICS.has(n)));
        if (ready[i]?.status === 200) markUp(this.s, `${w} sidecar`);
      });
      if (stats) {
        markUp(this.s, 'frontend app');
        if (this.s.upAt !== undefined) trafficSeen(this.s, stats);
      }
      if (backendApp?.status === 200) markUp(this.s, 'backend app');
    } finally {
      this.busy = false;
    }
  }

  /** Wait for a poll in progress, then poll once more (the final numbers). */
  async settle(): Promise<void> {
    while (this.busy) await new Promise((r) => setTimeout(r, 20));
    await this.poll();
  }
}

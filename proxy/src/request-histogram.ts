// The request-duration histogram, counted on the request path without
// prom-client's per-observation work. Its Histogram hashes the label object,
// validates it and looks the series up by string on every observe (0.5 to 1
// µs each, about 2.5% of a sidecar's CPU under keep-alive load, with the
// request counter another 1.5%; docs/benchmarks.md). Here each label value's
// series is bound once and an observation is a bucket search and three
// additions. prom-client's registry still formats it: `get()` returns what
// its Histogram's does, so the exposition is unchanged, series appearing at
// their first observation.
import type { Metric, Registry } from 'prom-client';

/** One line of the exposition, as prom-client's registry reads it from a metric's get(). */
interface ExposedValue {
  metricName: string;
  labels: Record<string, string | number>;
  value: number;
  /** prom-client's buckets carry one (null without exemplars). */
  exemplar?: null;
}

export interface HistogramSeries {
  observe(seconds: number): void;
}

class Series implements HistogramSeries {
  /** Observations per bucket (not cumulative); the last one is +Inf. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(private readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(v: number): void {
    const b = this.bounds;
    let i = 0;
    while (i < b.length && v > b[i]!) i++;
    this.counts[i]! += 1;
    this.sum += v;
    this.count += 1;
  }
}

export class LabelledHistogram<V extends string> {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  /** Like prom-client's metrics (the dashboard test reads it). */
  readonly labelNames: readonly string[];
  private readonly series = new Map<V, Series>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labelName: string,
    labelValues: readonly V[],
    private readonly bounds: readonly number[],
    registry: Registry,
  ) {
    this.labelNames = [labelName];
    for (const v of labelValues) this.series.set(v, new Series(bounds));
    // The registry needs only name, get() and reset() of a metric.
    registry.registerMetric(this as unknown as Metric);
  }

  /** The series of one label value, to observe on the hot path. */
  labels(value: V): HistogramSeries {
    const s = this.series.get(value);
    if (!s) throw new Error(`${this.name}: no series for ${this.labelName}="${value}"`);
    return s;
  }

  async get(): Promise<{ name: string; help: string; type: 'histogram'; aggregator: 'sum'; values: ExposedValue[] }> {
    const values: ExposedValue[] = [];
    for (const [label, s] of this.series) {
      if (s.count === 0) continue;
      let acc = 0;
      for (let i = 0; i < this.bounds.length; i++) {
        acc += s.counts[i]!;
        values.push({ metricName: `${this.name}_bucket`, labels: { le: this.bounds[i]!, [this.labelName]: label }, value: acc, exemplar: null });
      }
      values.push({ metricName: `${this.name}_bucket`, labels: { le: '+Inf', [this.labelName]: label }, value: s.count, exemplar: null });
      values.push({ metricName: `${this.name}_sum`, labels: { [this.labelName]: label }, value: s.sum });
      values.push({ metricName: `${this.name}_count`, labels: { [this.labelName]: label }, value: s.count });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  reset(): void {
    for (const s of this.series.values()) {
      s.counts.fill(0);
      s.sum = 0;
      s.count = 0;
    }
  }
}

/**
 * Metrics over OTLP: a process's prom-client registry, exported as it is to OTEL_EXPORTER_OTLP_ENDPOINT
 * (`<endpoint>/v1/metrics`, OTLP/HTTP) every OTEL_METRIC_EXPORT_INTERVAL milliseconds, beside its /metrics.
 *
 * The registry stays the one source: a MetricProducer (`registryProducer`) reads it at each export and hands
 * @opentelemetry/sdk-metrics (1.30.1, the line sdk-node 0.57.2 resolves) the same series with the same names and
 * labels: a counter becomes a monotonic cumulative Sum, a gauge a Gauge, a histogram an explicit-bucket Histogram
 * (its cumulative `le` buckets turned into per-bucket counts). Summaries are left out (prom-client's default
 * metrics have none). Every point is cumulative from when the export started.
 */
import { ValueType } from '@opentelemetry/api';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { Resource } from '@opentelemetry/resources';
import {
  AggregationTemporality,
  DataPointType,
  InstrumentType,
  MeterProvider,
  PeriodicExportingMetricReader,
  type CollectionResult,
  type MetricData,
  type MetricProducer,
} from '@opentelemetry/sdk-metrics';
import type client from 'prom-client';
import type { Config } from '../config/index.js';
import type { ProcessRole } from './telemetry-metrics.js';

type HrTime = [number, number];
const hrTime = (ms: number): HrTime => [Math.floor(ms / 1000), (ms % 1000) * 1_000_000];

type Labels = Record<string, string | number>;
interface PromValue {
  value: number;
  labels: Labels;
  metricName?: string;
}
interface PromMetric {
  name: string;
  help: string;
  type: string;
  values: PromValue[];
}

/** The OTel unit a Prometheus name's suffix implies. */
function unitOf(name: string): string {
  if (/_seconds(_total)?$/.test(name)) return 's';
  if (/_bytes(_total)?$/.test(name)) return 'By';
  return '';
}

const attributesOf = (labels: Labels) =>
  Object.fromEntries(Object.entries(labels).map(([k, v]) => [k, typeof v === 'number' ? v : String(v)]));

/** One prom-client metric (as `getMetricsAsJSON` gives it) as OTel metric data; undefined for a summary. */
export function toMetricData(metric: PromMetric, startTime: HrTime, endTime: HrTime): MetricData | undefined {
  const base = { name: metric.name, description: metric.help, unit: unitOf(metric.name), valueType: ValueType.DOUBLE };
  const point = <T>(labels: Labels, value: T) => ({ startTime, endTime, attributes: attributesOf(labels), value });
  switch (metric.type) {
    case 'counter':
      return {
        descriptor: { ...base, type: InstrumentType.COUNTER },
        aggregationTemporality: AggregationTemporality.CUMULATIVE,
        dataPointType: DataPointType.SUM,
        isMonotonic: true,
        dataPoints: metric.values.map((v) => point(v.labels, v.value)),
      };
    case 'gauge':
      return {
        descriptor: { ...base, type: InstrumentType.GAUGE },
        aggregationTemporality: AggregationTemporality.CUMULATIVE,
        dataPointType: DataPointType.GAUGE,
        dataPoints: metric.values.map((v) => point(v.labels, v.value)),
      };
    case 'histogram':
      return {
        descriptor: { ...base, type: InstrumentType.HISTOGRAM },
        aggregationTemporality: AggregationTemporality.CUMULATIVE,
        dataPointType: DataPointType.HISTOGRAM,
        dataPoints: histogramPoints(metric).map((h) =>
          point(h.labels, { buckets: h.buckets, sum: h.sum, count: h.count }),
        ),
      };
    default:
      return undefined;
  }
}

/** A prom-client histogram's `_bucket`/`_sum`/`_count` values, grouped by their labels other than `le`. */
function histogramPoints(metric: PromMetric) {
  const series = new Map<string, { labels: Labels; cumulative: [number, number][]; sum: number; count: number }>();
  for (const v of metric.values) {
    const { le, ...labels } = v.labels;
    const key = JSON.stringify(Object.entries(labels).sort());
    const s = series.get(key) ?? { labels, cumulative: [], sum: 0, count: 0 };
    series.set(key, s);
    if (v.metricName?.endsWith('_bucket')) {
      const bound = le === '+Inf' ? Infinity : Number(le);
      s.cumulative.push([bound, v.value]);
    } else if (v.metricName?.endsWith('_sum')) s.sum = v.value;
    else if (v.metricName?.endsWith('_count')) s.count = v.value;
  }
  return [...series.values()].map((s) => {
    const sorted = s.cumulative.sort((a, b) => a[0] - b[0]);
    const boundaries = sorted.filter(([b]) => Number.isFinite(b)).map(([b]) => b);
    const counts: number[] = [];
    let below = 0;
    for (const [bound, cumulative] of sorted) {
      counts.push(cumulative - below);
      below = cumulative;
      if (!Number.isFinite(bound)) break;
    }
    // Without a +Inf bucket, what is above the last bound is the rest of the count.
    if (counts.length === boundaries.length) counts.push(Math.max(0, s.count - below));
    return { labels: s.labels, buckets: { boundaries, counts }, sum: s.sum, count: s.count };
  });
}

/** A MetricProducer that reads `registry` at each collection. */
export function registryProducer(registry: client.Registry, startedAt = Date.now()): MetricProducer {
  const startTime = hrTime(startedAt);
  return {
    async collect(): Promise<CollectionResult> {
      const errors: unknown[] = [];
      let metrics: PromMetric[] = [];
      try {
        metrics = (await registry.getMetricsAsJSON()) as unknown as PromMetric[];
      } catch (err) {
        errors.push(err);
      }
      const endTime = hrTime(Date.now());
      const data = metrics.flatMap((m) => toMetricData(m, startTime, endTime) ?? []);
      return {
        resourceMetrics: {
          resource: Resource.empty(),
          scopeMetrics: [{ scope: { name: 'spark-runner' }, metrics: data }],
        },
        errors,
      };
    },
  };
}

export interface MetricsExport {
  /** Exports what the registry holds now (tests, and before exit). */
  flush(): Promise<void>;
  shutdown(): Promise<void>;
}

/**
 * Exports `registry` over OTLP/HTTP to OTEL_EXPORTER_OTLP_ENDPOINT, as `spark-runner-<role>`; undefined when the
 * endpoint is unset. Each call has its own provider (an API and a worker may share a test process).
 */
export function startMetricsExport(
  config: Pick<Config, 'OTEL_EXPORTER_OTLP_ENDPOINT' | 'OTEL_METRIC_EXPORT_INTERVAL'>,
  role: ProcessRole,
  registry: client.Registry,
): MetricsExport | undefined {
  if (!config.OTEL_EXPORTER_OTLP_ENDPOINT) return undefined;
  const exporter = new OTLPMetricExporter({
    url: `${config.OTEL_EXPORTER_OTLP_ENDPOINT.replace(/\/+$/, '')}/v1/metrics`,
  });
  const reader = new PeriodicExportingMetricReader({
    exporter,
    exportIntervalMillis: config.OTEL_METRIC_EXPORT_INTERVAL,
    exportTimeoutMillis: Math.min(30_000, config.OTEL_METRIC_EXPORT_INTERVAL),
    metricProducers: [registryProducer(registry)],
  });
  const provider = new MeterProvider({
    resource: new Resource({ 'service.name': `spark-runner-${role}`, 'service.namespace': 'spark-runner' }),
    mergeResourceWithDefaults: false,
    readers: [reader],
  });
  let stopped: Promise<void> | undefined;
  return {
    flush: () => provider.forceFlush(),
    shutdown: () => (stopped ??= provider.shutdown()),
  };
}

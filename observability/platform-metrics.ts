/**
 * Process-wide series taken deep in the Kubernetes backend, where no registry is passed down: the API calls a
 * process makes and its SparkApplication watches' re-lists. They are
 * created once per process, registered in no registry, and each process adds them to its own
 * (`registerPlatformMetrics`), so they appear on the worker's and the watcher's /metrics and OTLP export.
 *
 * | metric                                     | type      | labels                  | what                                   |
 * |--------------------------------------------|-----------|-------------------------|----------------------------------------|
 * | spark_runner_kubernetes_requests_total     | counter   | cluster, verb, code     | typed API calls by HTTP verb and answer |
 * | spark_runner_watch_relists_total           | counter   | cluster, reason         | watch re-lists: gone (410) or error    |
 */
import client from 'prom-client';

export const platformMetrics = {
  kubernetesRequests: new client.Counter({
    name: 'spark_runner_kubernetes_requests_total',
    help: 'Kubernetes API calls (typed clients, not watch or log streams) by cluster, HTTP verb and status code (error: no answer)',
    labelNames: ['cluster', 'verb', 'code'] as const,
    registers: [],
  }),
  watchRelists: new client.Counter({
    name: 'spark_runner_watch_relists_total',
    help: 'SparkApplication watch re-lists by cluster and reason: gone (410, the version was compacted) or error (the watch failed)',
    labelNames: ['cluster', 'reason'] as const,
    registers: [],
  }),
};

/** Adds the process-wide series to `registry` (once). */
export function registerPlatformMetrics(registry: client.Registry): void {
  const names = {
    kubernetesRequests: 'spark_runner_kubernetes_requests_total',
    watchRelists: 'spark_runner_watch_relists_total',
  };
  for (const [key, name] of Object.entries(names)) {
    const metric = platformMetrics[key as keyof typeof platformMetrics] as client.Metric;
    if (!registry.getSingleMetric(name)) registry.registerMetric(metric);
  }
}

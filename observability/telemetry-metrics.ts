/**
 * The platform's lifecycle metrics, as Prometheus series (prom-client), for every process: the API (api/metrics.ts
 * adds its request metrics to the same kind of registry), the worker and the watcher, each on its own `/metrics`
 * listener. Labels are bounded sets (backend, cluster, state, failure class, activity type); never an execution id.
 *
 * | metric                                            | type      | labels                         | from   |
 * |---------------------------------------------------|-----------|--------------------------------|--------|
 * | spark_runner_submit_seconds                       | histogram | outcome                        | API    |
 * | spark_runner_pending_seconds                      | histogram | backend, cluster               | worker |
 * | spark_runner_time_to_running_seconds              | histogram | backend, cluster               | worker |
 * | spark_runner_status_propagation_seconds           | histogram | backend                        | worker |
 * | spark_runner_executions_finished_total            | counter   | state, failure_class, backend  | worker |
 * | spark_runner_retries_total                        | counter   | failure_class                  | worker |
 * | spark_runner_oom_remediations_total               | counter   | (none)                         | worker |
 * | spark_runner_activity_seconds                     | histogram | activity, outcome              | worker |
 * | spark_runner_team_queue_wait_seconds              | histogram | team                           | worker |
 * | spark_runner_backend_available                    | gauge     | backend, cluster               | worker, watcher |
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { WorkerInterceptors } from '@temporalio/worker';
import client from 'prom-client';
import { FAILURE_CLASSES, type FailureClass } from '../schema/states.js';
import { ExecutionStore, type EventInput } from '../store/executions.js';

export type ProcessRole = 'api' | 'worker' | 'watcher';

/** A registry with the process's default metrics (CPU, memory, event loop), prefixed by its role. */
export function processRegistry(role: ProcessRole): client.Registry {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry, prefix: `spark_runner_${role}_` });
  return registry;
}

const SECONDS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800];

export interface LifecycleMetrics {
  registry: client.Registry;
  pending: client.Histogram<'backend' | 'cluster'>;
  timeToRunning: client.Histogram<'backend' | 'cluster'>;
  propagation: client.Histogram<'backend'>;
  finished: client.Counter<'state' | 'failure_class' | 'backend'>;
  retries: client.Counter<'failure_class'>;
  oomRemediations: client.Counter;
  activity: client.Histogram<'activity' | 'outcome'>;
  teamQueueWait: client.Histogram<'team'>;
  /**
   * Starts the series of these backends (and clusters) at zero, so that the first execution's change is a change
   * to rate() and increase(), not a series appearing with its value already counted.
   */
  prime(places: { backend: string; cluster?: string }[]): void;
}

/** The worker's lifecycle metrics on `registry`. */
export function lifecycleMetrics(registry = new client.Registry()): LifecycleMetrics {
  const registers = [registry];
  return {
    registry,
    pending: new client.Histogram({
      name: 'spark_runner_pending_seconds',
      help: 'From accepting an execution to its first attempt being at a backend (team queue, placement, submit)',
      labelNames: ['backend', 'cluster'] as const,
      buckets: SECONDS,
      registers,
    }),
    timeToRunning: new client.Histogram({
      name: 'spark_runner_time_to_running_seconds',
      help: 'From accepting an execution to its first RUNNING',
      labelNames: ['backend', 'cluster'] as const,
      buckets: SECONDS,
      registers,
    }),
    propagation: new client.Histogram({
      name: 'spark_runner_status_propagation_seconds',
      help: 'From a backend observing RUNNING to the store recording it (watch or poll, signal, workflow, activity)',
      labelNames: ['backend'] as const,
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    }),
    finished: new client.Counter({
      name: 'spark_runner_executions_finished_total',
      help: 'Executions that ended, by final state and failure class (none when it succeeded or was cancelled)',
      labelNames: ['state', 'failure_class', 'backend'] as const,
      registers,
    }),
    retries: new client.Counter({
      name: 'spark_runner_retries_total',
      help: 'Attempts retried (AR), by the failure class of the failed attempt',
      labelNames: ['failure_class'] as const,
      registers,
    }),
    oomRemediations: new client.Counter({
      name: 'spark_runner_oom_remediations_total',
      help: 'OOM retries that changed the resources (more memory) for the next attempt',
      registers,
    }),
    prime(places) {
      for (const { backend, cluster } of places) {
        if (cluster) {
          this.pending.zero({ backend, cluster });
          this.timeToRunning.zero({ backend, cluster });
        }
        this.finished.inc({ state: 'SUCCEEDED', failure_class: 'none', backend }, 0);
        this.finished.inc({ state: 'CANCELLED', failure_class: 'none', backend }, 0);
        for (const failure_class of FAILURE_CLASSES) this.finished.inc({ state: 'FAILED', failure_class, backend }, 0);
      }
    },
    teamQueueWait: new client.Histogram({
      name: 'spark_runner_team_queue_wait_seconds',
      help: "From accepting an execution to its admission past its team's concurrency limit (teams with a limit only)",
      labelNames: ['team'] as const,
      buckets: [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600],
      registers,
    }),
    activity: new client.Histogram({
      name: 'spark_runner_activity_seconds',
      help: 'Activity run time in the worker (submit, status polls, cancel, store writes, log archiving), by type',
      labelNames: ['activity', 'outcome'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
  };
}

const seconds = (from: Date, to: Date) => Math.max(0, (to.getTime() - from.getTime()) / 1000);

/**
 * The store as the worker uses it, counting each lifecycle event once: the metrics are taken only when
 * recordEvents reports the event as new, so an activity retried after a crash does not count twice.
 */
export class InstrumentedStore extends ExecutionStore {
  private metrics?: LifecycleMetrics;

  /** Starts counting into `metrics`. */
  instrument(metrics: LifecycleMetrics): this {
    this.metrics = metrics;
    return this;
  }

  /** Admission past a team's limit, timed once: by the call that admitted it. */
  protected override admitted(team: string, createdAt: Date, admittedAt: Date): void {
    this.metrics?.teamQueueWait.observe({ team }, seconds(createdAt, admittedAt));
  }

  override async recordEvents(inputs: EventInput[]): Promise<boolean[]> {
    const created = await super.recordEvents(inputs);
    const metrics = this.metrics;
    if (metrics) {
      for (const [i, input] of inputs.entries()) {
        if (created[i]) await this.observe(metrics, input).catch(() => undefined);
      }
    }
    return created;
  }

  private async observe(m: LifecycleMetrics, input: EventInput): Promise<void> {
    switch (input.type) {
      case 'SUBMIT':
      case 'RUNNING':
      case 'TERMINAL': {
        // Only a first attempt's SUBMIT is measured: a retry's needs no read of the row.
        if (input.type === 'SUBMIT' && input.attempt !== 1) return;
        const row = await this.getExecution(input.executionId);
        if (!row) return;
        const where = { backend: row.backend ?? 'none', cluster: row.cluster ?? 'none' };
        if (input.type === 'SUBMIT') m.pending.observe(where, seconds(row.createdAt, input.at));
        if (input.type === 'RUNNING') {
          if (input.attempt === 1) m.timeToRunning.observe(where, seconds(row.createdAt, input.at));
          const observedAt = input.payload.observedAt;
          if (typeof observedAt === 'string' || observedAt instanceof Date) {
            m.propagation.observe({ backend: where.backend }, seconds(new Date(observedAt), input.at));
          }
        }
        if (input.type === 'TERMINAL') {
          m.finished.inc({
            state: String(input.payload.state),
            failure_class: (input.payload.failureClass as FailureClass | null) ?? 'none',
            backend: where.backend,
          });
        }
        return;
      }
      case 'RETRY': {
        const failureClass = String(input.payload.failureClass);
        m.retries.inc({ failure_class: failureClass });
        if (failureClass === 'OOM' && input.payload.change) m.oomRemediations.inc();
        return;
      }
      default:
        return;
    }
  }
}

/** An activity interceptor timing every activity into `metrics.activity`. */
export function activityMetrics(metrics: LifecycleMetrics): NonNullable<WorkerInterceptors['activity']>[number] {
  return (ctx) => ({
    inbound: {
      async execute(input, next) {
        const end = metrics.activity.startTimer({ activity: ctx.info.activityType });
        try {
          const result = await next(input);
          end({ outcome: 'ok' });
          return result;
        } catch (err) {
          end({ outcome: 'error' });
          throw err;
        }
      },
    },
  });
}

/** Keeps `spark_runner_backend_available{backend,cluster}` (1 up, 0 down) from a health snapshot read at scrape. */
export function backendAvailability(
  registry: client.Registry,
  snapshot: () => Record<string, { healthy: boolean }>,
  backendOf: (cluster: string) => string = () => 'kubernetes',
): void {
  new client.Gauge({
    name: 'spark_runner_backend_available',
    help: 'Whether a backend cluster is available (1) or not (0), as its health monitor last saw it',
    labelNames: ['backend', 'cluster'] as const,
    registers: [registry],
    collect() {
      for (const [cluster, health] of Object.entries(snapshot())) {
        this.set({ backend: backendOf(cluster), cluster }, health.healthy ? 1 : 0);
      }
    },
  });
}

export interface MetricsListener {
  url: string;
  close(): Promise<void>;
}

/** Serves GET /metrics from `registry` on host:port (port 0: any free port). */
export async function startMetricsListener(
  registry: client.Registry,
  host: string,
  port: number,
): Promise<MetricsListener> {
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' || req.url?.split('?')[0] !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (err: Error) => res.writeHead(500).end(err.message),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  const { port: bound } = server.address() as AddressInfo;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${bound}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

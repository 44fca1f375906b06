/**
 * Prometheus metrics for GET /metrics: request counts and latencies by route, submissions and submit latency by
 * outcome, and the number of executions in flight by state (read from the store at scrape time; only non-terminal
 * rows, so a scrape does not grow with history). One registry per app instance.
 */
import type { RequestHandler } from 'express';
import client from 'prom-client';
import { ACTIVE_STATES } from '../schema/states.js';
import { processRegistry } from '../observability/telemetry-metrics.js';
import type { ExecutionStore } from '../store/executions.js';

export interface ApiMetrics {
  registry: client.Registry;
  submissions: client.Counter<'outcome'>;
  /** Submit latency by outcome (created, repeat, rejected): the submit-p99 SLO's series. */
  submitSeconds: client.Histogram<'outcome'>;
  middleware: RequestHandler;
}

export function createMetrics(store: ExecutionStore): ApiMetrics {
  const registry = processRegistry('api');
  const requests = new client.Counter({
    name: 'spark_runner_http_requests_total',
    help: 'HTTP requests by method, route and status code',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  const latency = new client.Histogram({
    name: 'spark_runner_http_request_duration_seconds',
    help: 'HTTP request latency by method and route',
    labelNames: ['method', 'route'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const submissions = new client.Counter({
    name: 'spark_runner_submissions_total',
    help: 'Submit requests by outcome: created, repeat (idempotent replay) or rejected',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  const submitSeconds = new client.Histogram({
    name: 'spark_runner_submit_seconds',
    help: 'Submit latency: POST /api/v1/jobs from the request to the durable answer (202, or the error), by outcome',
    labelNames: ['outcome'] as const,
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  // From zero, so the first submit is a change rate() sees.
  for (const outcome of ['created', 'repeat', 'rejected']) submitSeconds.zero({ outcome });
  new client.Gauge({
    name: 'spark_runner_executions',
    help: 'Executions in flight by state (PENDING, SUBMITTED, RUNNING); ended ones: spark_runner_executions_finished_total',
    labelNames: ['state'] as const,
    registers: [registry],
    async collect() {
      const counts = await store.countActiveByState();
      for (const state of ACTIVE_STATES) this.set({ state }, counts[state] ?? 0);
    },
  });
  const middleware: RequestHandler = (req, res, next) => {
    const end = latency.startTimer();
    res.on('finish', () => {
      // The matched route pattern, not the raw path, keeps label cardinality bounded.
      const route = (req.route as { path?: string } | undefined)?.path ?? 'unmatched';
      const labels = { method: req.method, route };
      end(labels);
      requests.inc({ ...labels, status: String(res.statusCode) });
    });
    next();
  };
  return { registry, submissions, submitSeconds, middleware };
}

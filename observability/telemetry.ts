/**
 * OpenTelemetry traces: one trace per execution, from the REST request (a SERVER span per request,
 * `requestSpans`), through the workflow start (the Temporal client interceptor puts the trace context in the
 * workflow's headers), the workflow and each of its activities (submit, status polls, cancel, store writes) and
 * the backend calls they make. Spans go over OTLP/HTTP to OTEL_EXPORTER_OTLP_ENDPOINT.
 *
 * The worker side (workflow and activity interceptors, and the sink that exports workflow spans) is behind
 * TEMPORAL_OTEL_INTERCEPTORS, because workflow interceptors are part of the workflow code and so of replay
 * (temporalio/sdk-typescript #1835): test/integration/otel.test.ts replays recorded histories with and without them.
 * The client interceptor only adds headers to what the API sends, and is on whenever an endpoint is set.
 */
import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { Resource } from '@opentelemetry/resources';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { BatchSpanProcessor, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { WorkflowClientInterceptor } from '@temporalio/client';
import { OpenTelemetryPlugin, OpenTelemetryWorkflowClientInterceptor } from '@temporalio/interceptors-opentelemetry';
import type { RequestHandler } from 'express';
import type { Config } from '../config/index.js';
import type { ProcessRole } from './telemetry-metrics.js';

export interface Tracing {
  resource: Resource;
  spanProcessor: SpanProcessor;
  /** Sends what is buffered now (tests, and before exit). */
  flush(): Promise<void>;
  shutdown(): Promise<void>;
}

let installed: Tracing | undefined;

/**
 * Starts this process's tracer provider, exporting to OTEL_EXPORTER_OTLP_ENDPOINT; undefined when it is unset.
 * One per process (the provider is global): a second call returns the first one's.
 */
export function startTracing(
  config: Pick<Config, 'OTEL_EXPORTER_OTLP_ENDPOINT'>,
  role: ProcessRole | 'dev',
): Tracing | undefined {
  if (!config.OTEL_EXPORTER_OTLP_ENDPOINT) return undefined;
  if (installed) return installed;
  const resource = new Resource({ 'service.name': `spark-runner-${role}`, 'service.namespace': 'spark-runner' });
  const exporter = new OTLPTraceExporter({
    url: `${config.OTEL_EXPORTER_OTLP_ENDPOINT.replace(/\/+$/, '')}/v1/traces`,
  });
  const spanProcessor = new BatchSpanProcessor(exporter, { scheduledDelayMillis: 1000 });
  const sdk = new NodeSDK({
    resource,
    spanProcessors: [spanProcessor],
    instrumentations: [],
    autoDetectResources: false,
  });
  sdk.start();
  const tracing: Tracing = {
    resource,
    spanProcessor,
    flush: () => spanProcessor.forceFlush(),
    shutdown: async () => {
      installed = undefined;
      await sdk.shutdown();
    },
  };
  installed = tracing;
  return tracing;
}

/** The Temporal client interceptors that carry the active trace into workflow starts, signals and updates. */
export function tracingClientInterceptors(tracing: Tracing | undefined): { workflow: WorkflowClientInterceptor[] } {
  return { workflow: tracing ? [new OpenTelemetryWorkflowClientInterceptor()] : [] };
}

/** The worker plugin (workflow and activity interceptors, workflow span sink), when TEMPORAL_OTEL_INTERCEPTORS is on. */
export function tracingWorkerPlugins(
  tracing: Tracing | undefined,
  config: Pick<Config, 'TEMPORAL_OTEL_INTERCEPTORS'>,
): OpenTelemetryPlugin[] {
  if (!tracing || !config.TEMPORAL_OTEL_INTERCEPTORS) return [];
  return [new OpenTelemetryPlugin({ resource: tracing.resource, spanProcessor: tracing.spanProcessor })];
}

/**
 * A SERVER span per HTTP request, named by its route pattern (`POST /api/v1/jobs`), active while the request is
 * handled, so a workflow started from it joins its trace. A no-op without a tracer provider.
 */
export function requestSpans(): RequestHandler {
  const tracer = trace.getTracer('spark-runner-api');
  return (req, res, next) => {
    const span = tracer.startSpan(`${req.method} request`, {
      kind: SpanKind.SERVER,
      attributes: { 'http.request.method': req.method, 'url.path': req.path },
    });
    res.on('finish', () => {
      const route = (req.route as { path?: string } | undefined)?.path ?? 'unmatched';
      span.updateName(`${req.method} ${route}`);
      span.setAttribute('http.route', route);
      span.setAttribute('http.response.status_code', res.statusCode);
      if (res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    });
    context.with(trace.setSpan(context.active(), span), next);
  };
}

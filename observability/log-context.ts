/**
 * Log correlation: every line the worker logs while it runs an execution's activity carries `execution_id`,
 * `attempt` (when the activity is about one) and, while a span is active (tracing on), `trace_id` and `span_id`,
 * so an execution's lines can be found by its id and joined to its trace.
 *
 * How: an activity interceptor (`executionLogScope`) runs each activity of an execution inside an AsyncLocalStorage
 * scope holding the execution id, the attempt and a pino child logger for that activity (`executionLog()` returns
 * it, so activities log without a logger in their signatures). The worker's logger is wrapped once
 * (`correlatedLogger`) with a log formatter that adds the scope's fields and the active span's trace id to each line
 * at the moment it is written; the backends and the store log through that same wrapped logger, so their lines
 * inside an activity carry the fields too. The trace id is read at write time, not when the scope opens, because
 * Temporal's OpenTelemetry activity interceptor (a plugin's, so after ours in the chain) starts the RunActivity span
 * inside our scope.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { isSpanContextValid, trace } from '@opentelemetry/api';
import type { Info as ActivityInfo } from '@temporalio/activity';
import type { WorkerInterceptors } from '@temporalio/worker';
import pino, { type Logger } from 'pino';
import { executionIdOfWorkflowId } from '../schema/vocabulary.js';

/** What an execution's log lines carry beside their message. */
export interface ExecutionLogFields {
  execution_id: string;
  attempt?: number;
}

interface Scope {
  fields: ExecutionLogFields;
  logger: Logger;
}

const scopes = new AsyncLocalStorage<Scope>();
const silent = pino({ level: 'silent' });

/** The active span's trace and span ids, when one is active and valid. */
function traceFields(): { trace_id: string; span_id: string } | undefined {
  const span = trace.getActiveSpan()?.spanContext();
  return span && isSpanContextValid(span) ? { trace_id: span.traceId, span_id: span.spanId } : undefined;
}

/** The correlation fields of the line being written now: the execution scope's, then the active trace's. */
export function correlationFields(): Partial<ExecutionLogFields & { trace_id: string; span_id: string }> {
  return { ...scopes.getStore()?.fields, ...traceFields() };
}

/**
 * `base` with every line it (or a child of it) writes carrying `correlationFields()`. A field the call itself
 * gives wins.
 */
export function correlatedLogger(base: Logger): Logger {
  return base.child({}, { formatters: { log: (object) => ({ ...correlationFields(), ...object }) } });
}

/** The logger of the execution activity running now (a child per activity); a silent one outside any. */
export function executionLog(): Logger {
  return scopes.getStore()?.logger ?? silent;
}

/** The execution and attempt an activity is about: from its input (`executionId`, `execution.executionId`, `attempt`), else its workflow id. */
export function executionOfActivity(info: ActivityInfo, args: unknown[]): ExecutionLogFields | undefined {
  const input = (typeof args[0] === 'object' && args[0] !== null ? args[0] : {}) as {
    executionId?: unknown;
    execution?: { executionId?: unknown };
    attempt?: unknown;
  };
  const fromInput = typeof input.executionId === 'string' ? input.executionId : input.execution?.executionId;
  const workflowId = info.workflowExecution?.workflowId;
  const id = typeof fromInput === 'string' ? fromInput : workflowId ? executionIdOfWorkflowId(workflowId) : undefined;
  if (!id) return undefined;
  return typeof input.attempt === 'number' ? { execution_id: id, attempt: input.attempt } : { execution_id: id };
}

/**
 * An activity interceptor running each activity of an execution in its log scope, with a child of `logger` (a
 * `correlatedLogger`) bound to the activity's type. Activities of anything else (sessions, retention) run as they are.
 */
export function executionLogScope(logger: Logger): NonNullable<WorkerInterceptors['activity']>[number] {
  return (ctx) => ({
    inbound: {
      async execute(input, next) {
        const fields = executionOfActivity(ctx.info, input.args);
        if (!fields) return next(input);
        const child = logger.child({ activity: ctx.info.activityType });
        return scopes.run({ fields, logger: child }, () => next(input));
      },
    },
  });
}

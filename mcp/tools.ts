/**
 * The debug tools of the MCP server: "what ran, why did it fail, show me the logs". Every tool is a thin reader
 * over the REST API, called with the caller's own token, so each answers exactly what that token may see: another
 * team's execution is "not found" here as it is over REST. Results are bounded (excerpt.ts).
 *
 * | tool               | API calls                                                                   |
 * |--------------------|-----------------------------------------------------------------------------|
 * | list_executions    | GET /api/v1/executions (filters)                                            |
 * | get_execution      | GET /api/v1/executions/{id}                                                 |
 * | why_failed         | the execution, its events, and the failing attempt's archived log          |
 * | get_logs           | GET /api/v1/executions/{id}/logs (tail, attempt), then grep here            |
 * | compare_runs       | the execution and the newest SUCCEEDED execution of the same job            |
 * | get_recommendation | the execution's job, then GET /api/v1/jobs/{job_id}/recommendation (APS)    |
 * | cancel_execution   | DELETE /api/v1/executions/{id}, only with confirm: true                     |
 */
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import type { CancelAccepted, Event, Execution } from '../api/wire.js';
import { ApiError } from '../cli/errors.js';
import type { Query } from '../cli/http.js';
import { BACKENDS, EXECUTION_STATES, TRIGGERS } from '../schema/states.js';
import { bound, findException, logExcerpt, MAX_LOG_LINES } from './excerpt.js';

type ExecutionView = z.infer<typeof Execution>;
type EventView = z.infer<typeof Event>;

/** What the tools need of the API: cli/http.ts's ApiClient, bound to one URL and the caller's token. */
export interface DebugApi {
  json<T>(method: string, path: string, options?: { query?: Query }): Promise<T>;
  text(path: string, query?: Query): Promise<string>;
}

/** A tool's refusal or failure, as the model reads it (isError), never a protocol error. */
export class ToolRefusal extends Error {}

const executionId = z.string().min(1).max(100).describe('the execution id (a UUID)');

function ok(value: unknown): CallToolResult {
  const text = typeof value === 'string' ? value : JSON.stringify(value, null, 2);
  return { content: [{ type: 'text', text: bound(text) }] };
}

function refused(message: string): CallToolResult {
  return { content: [{ type: 'text', text: bound(message) }], isError: true };
}

/** Runs a tool body, turning the API's answers (404 for another team's execution, 409, ...) into refusals. */
async function guarded(body: () => Promise<CallToolResult>): Promise<CallToolResult> {
  try {
    return await body();
  } catch (err) {
    if (err instanceof ToolRefusal) return refused(err.message);
    if (err instanceof ApiError) {
      const status = err.problem.status;
      if (status === 404) return refused(`not found: ${err.message} (or not visible to this token)`);
      return refused(`the API answered ${status}: ${err.message}`);
    }
    return refused(`failed: ${(err as Error).message}`);
  }
}

const enc = encodeURIComponent;

async function getExecution(api: DebugApi, id: string): Promise<ExecutionView> {
  return api.json<ExecutionView>('GET', `/api/v1/executions/${enc(id)}`);
}

/** The fields of an execution a person reads first; the rest is one get_execution away. */
function summary(e: ExecutionView) {
  return {
    execution_id: e.execution_id,
    job_path: e.job_path,
    status: e.status,
    trigger: e.trigger,
    attempts: e.attempts,
    backend: e.backend,
    cluster: e.cluster,
    submit_time: e.submit_time,
    end_time: e.end_time,
    error: e.error,
  };
}

function durationSeconds(e: ExecutionView): number | null {
  const start = e.start_time ?? e.submit_time;
  if (!e.end_time || !start) return null;
  return Math.round((Date.parse(e.end_time) - Date.parse(start)) / 100) / 10;
}

/** The attempt that failed: the TERMINAL event's, else the last RETRY's, else the execution's current one. */
function failingAttempt(e: ExecutionView, events: EventView[]): number {
  const terminal = events.findLast((ev) => ev.event_type === 'TERMINAL');
  if (terminal && terminal.payload.state === 'FAILED') return terminal.attempt;
  return events.findLast((ev) => ev.event_type === 'RETRY')?.attempt ?? e.attempts;
}

function regexOf(grep: string): RegExp {
  try {
    return new RegExp(grep, 'i');
  } catch (err) {
    throw new ToolRefusal(`grep is not a valid regular expression: ${(err as Error).message}`);
  }
}

/** Registers the debug tools on `server`; `api` carries the caller's token. */
export function registerDebugTools(server: McpServer, api: DebugApi): void {
  server.registerTool(
    'list_executions',
    {
      description:
        'List executions the token may see, newest first. Filters: team, job (<team>/<name>), state, trigger, ' +
        'backend, since/until (ISO 8601), limit (at most 100), cursor (from a previous answer).',
      inputSchema: {
        team: z.string().optional(),
        job: z.string().optional(),
        state: z.enum(EXECUTION_STATES).optional(),
        trigger: z.enum(TRIGGERS).optional(),
        backend: z.enum(BACKENDS).optional(),
        since: z.string().optional(),
        until: z.string().optional(),
        limit: z.number().int().min(1).max(100).default(20),
        cursor: z.string().optional(),
      },
      annotations: { readOnlyHint: true },
    },
    (args) =>
      guarded(async () => {
        const page = await api.json<{ items: ExecutionView[]; next_cursor?: string }>('GET', '/api/v1/executions', {
          query: args,
        });
        return ok({ items: page.items.map(summary), ...(page.next_cursor ? { next_cursor: page.next_cursor } : {}) });
      }),
  );

  server.registerTool(
    'get_execution',
    {
      description: 'One execution: status, attempts, placement, times, resources, links, error and Spark metrics.',
      inputSchema: { executionId },
      annotations: { readOnlyHint: true },
    },
    ({ executionId: id }) => guarded(async () => ok(await getExecution(api, id))),
  );

  server.registerTool(
    'why_failed',
    {
      description:
        'Why an execution failed: its failure class and message, the failing attempt, its events, and the ' +
        `Python or JVM exception line with its traceback (at most 40 lines) from that attempt's archived driver log.`,
      inputSchema: { executionId },
      annotations: { readOnlyHint: true },
    },
    ({ executionId: id }) =>
      guarded(async () => {
        const e = await getExecution(api, id);
        const { items: events } = await api.json<{ items: EventView[] }>('GET', `/api/v1/executions/${enc(id)}/events`);
        if (e.status !== 'FAILED' && !events.some((ev) => ev.event_type === 'RETRY')) {
          throw new ToolRefusal(
            `execution ${e.execution_id} is ${e.status} and no attempt of it failed: there is nothing to explain`,
          );
        }
        const attempt = failingAttempt(e, events);
        let log = '';
        let logError: string | undefined;
        try {
          log = await api.text(`/api/v1/executions/${enc(id)}/logs`, { attempt });
        } catch (err) {
          logError = (err as Error).message;
        }
        const found = findException(log);
        return ok({
          execution_id: e.execution_id,
          job_path: e.job_path,
          status: e.status,
          failure_class: e.error?.class ?? null,
          message: e.error?.message ?? null,
          failing_attempt: attempt,
          attempts: e.attempts,
          backend: e.backend,
          cluster: e.cluster,
          exception: found?.exception ?? null,
          exception_kind: found?.kind ?? null,
          traceback: found?.traceback.join('\n') ?? null,
          ...(found ? {} : { log_tail: logExcerpt(log, { tail: 20 }).text }),
          ...(logError ? { log_error: logError } : {}),
          events: events
            .filter((ev) => ev.event_type !== 'METRICS_SUMMARY')
            .map((ev) => ({ type: ev.event_type, attempt: ev.attempt, at: ev.timestamp, payload: ev.payload })),
          logs_url: e.logs_url,
        });
      }),
  );

  server.registerTool(
    'get_logs',
    {
      description:
        `An attempt's driver log (default: the current attempt): the last \`tail\` lines (at most ${MAX_LOG_LINES}), ` +
        'optionally only the lines matching `grep` (a case-insensitive regular expression).',
      inputSchema: {
        executionId,
        tail: z.number().int().min(1).max(MAX_LOG_LINES).default(100),
        grep: z.string().max(200).optional(),
        attempt: z.number().int().min(1).optional(),
      },
      annotations: { readOnlyHint: true },
    },
    ({ executionId: id, tail, grep, attempt }) =>
      guarded(async () => {
        const re = grep ? regexOf(grep) : undefined;
        // Without grep, the API cuts the tail; with it, the whole log is read and filtered here.
        const log = await api.text(`/api/v1/executions/${enc(id)}/logs`, {
          ...(re ? {} : { tail }),
          ...(attempt ? { attempt } : {}),
        });
        const excerpt = logExcerpt(log, { tail, ...(re ? { grep: re } : {}) });
        const head = `[${excerpt.lines} lines${excerpt.truncated ? ', older lines left out' : ''}]\n`;
        return ok(head + excerpt.text);
      }),
  );

  server.registerTool(
    'compare_runs',
    {
      description:
        'Compare an execution with the last successful execution of the same job: resources, duration, Spark ' +
        'version, placement and Spark metrics, with what differs.',
      inputSchema: { executionId },
      annotations: { readOnlyHint: true },
    },
    ({ executionId: id }) =>
      guarded(async () => {
        const run = await getExecution(api, id);
        const page = await api.json<{ items: ExecutionView[] }>('GET', '/api/v1/executions', {
          query: { job: run.job_path, state: 'SUCCEEDED', limit: 5 },
        });
        const baseline = page.items.find((e) => e.execution_id !== run.execution_id);
        if (!baseline) throw new ToolRefusal(`job ${run.job_path} has no other successful execution to compare with`);
        const side = (e: ExecutionView) => ({
          execution_id: e.execution_id,
          status: e.status,
          submit_time: e.submit_time,
          duration_s: durationSeconds(e),
          attempts: e.attempts,
          backend: e.backend,
          cluster: e.cluster,
          spark_version: e.spark_version,
          resources: e.resources,
          metrics: e.metrics,
        });
        const a = side(run);
        const b = side(baseline);
        const differs = (Object.keys(a) as (keyof typeof a)[]).filter(
          (k) => k !== 'execution_id' && k !== 'submit_time' && JSON.stringify(a[k]) !== JSON.stringify(b[k]),
        );
        return ok({ run: a, last_success: b, differs });
      }),
  );

  server.registerTool(
    'get_recommendation',
    {
      description:
        "APS's sizing recommendation for the next run of an execution's job, from its recent executions: each " +
        'field with its reason, and a confidence.',
      inputSchema: { executionId },
      annotations: { readOnlyHint: true },
    },
    ({ executionId: id }) =>
      guarded(async () => {
        const e = await getExecution(api, id);
        return ok(await api.json('GET', `/api/v1/jobs/${enc(e.job_id)}/recommendation`));
      }),
  );

  server.registerTool(
    'cancel_execution',
    {
      description:
        'Cancel an execution that has not finished. Changes state: it runs only with confirm: true, after the ' +
        'user has agreed.',
      inputSchema: {
        executionId,
        confirm: z.boolean().optional().describe('must be true: the user has confirmed the cancel'),
      },
      annotations: { destructiveHint: true, idempotentHint: true },
    },
    ({ executionId: id, confirm }) =>
      guarded(async () => {
        if (confirm !== true) {
          throw new ToolRefusal(
            `not cancelled: cancel_execution changes state and needs confirm: true (execution ${id} is untouched)`,
          );
        }
        const res = await api.json<z.infer<typeof CancelAccepted>>('DELETE', `/api/v1/executions/${enc(id)}`);
        return ok(res);
      }),
  );
}

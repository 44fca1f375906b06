/**
 * GET /api/v1/openapi.json, generated from the same zod schemas that validate requests (zod 4's JSON Schema
 * output), so the document cannot drift from what the server accepts. test/integration/openapi.test.ts checks
 * that every route the app registers is documented here (and nothing else), and that each request body schema
 * accepts and rejects what its handler does.
 */
import { z } from 'zod';
import { ReferenceSubmitBody } from './reference-body.js';
import { ListQuery, LogsQuery } from './routes/executions.js';
import { SubmitBody, SubmitQuery } from './routes/jobs.js';
import { ManifestJsonBody, ManifestQuery, YAML_TYPES } from './routes/manifests.js';
import { ScheduleBackfill, ScheduleNote, ScheduleTrigger } from './routes/schedules.js';

const schema = (s: z.ZodType) => z.toJSONSchema(s, { io: 'input', unrepresentable: 'any' });

/**
 * The zod schemas request bodies are validated with, by component name; each is published as
 * `#/components/schemas/<name>`. These are the very objects the route handlers call safeParse on.
 */
export const REQUEST_BODY_SCHEMAS = {
  SubmitBody,
  ReferenceSubmitBody,
  ManifestJsonBody,
  ScheduleNote,
  ScheduleTrigger,
  ScheduleBackfill,
} satisfies Record<string, z.ZodType>;

function queryParameters(s: z.ZodObject) {
  const json = schema(s) as { properties?: Record<string, object> };
  return Object.entries(json.properties ?? {}).map(([name, prop]) => ({
    name,
    in: 'query',
    required: false,
    schema: prop,
  }));
}

interface Operation {
  summary: string;
  parameters?: object[];
  requestBody?: object;
  /** [] for a route that needs no token. */
  security?: unknown[];
  responses: Record<string, object>;
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const problem = {
  description: 'problem details',
  content: { 'application/problem+json': { schema: ref('Problem') } },
};
const json = (description: string, schema: object = {}) => ({
  description,
  content: { 'application/json': { schema } },
});
const jsonBody = (name: string, required = true) => ({
  required,
  content: { 'application/json': { schema: ref(name) } },
});

const uuidParam = { name: 'id', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } };
/** /api/v1/jobs/{id}: an execution id, or a streaming job's continuous-<team>.<name>. */
const jobIdParam = {
  name: 'id',
  in: 'path',
  required: true,
  description: 'an execution id (uuid), or a streaming job id continuous-<team>.<name>',
  schema: { type: 'string' },
};
const streamingIdParam = {
  name: 'id',
  in: 'path',
  required: true,
  description: 'the streaming job id, continuous-<team>.<name>',
  schema: { type: 'string', pattern: '^continuous-[^.]+\\.[^.]+$' },
};
const scheduleIdParam = { name: 'id', in: 'path', required: true, schema: { type: 'string' } };
const execution = json('the execution', ref('Execution'));
const items = (description: string, item: object = { type: 'object' }) =>
  json(description, {
    type: 'object',
    properties: { items: { type: 'array', items: item } },
    required: ['items'],
  });

export function openApiDocument(): object {
  const executionPaths = (base: string, check: Operation): Record<string, Record<string, Operation>> => ({
    [`${base}/{id}`]: {
      get: check,
      delete: {
        summary: 'Cancel an execution',
        parameters: [uuidParam],
        responses: {
          202: json('cancel requested', {
            type: 'object',
            properties: {
              job_id: { type: 'string' },
              execution_id: { type: 'string' },
              status: { const: 'CANCEL_REQUESTED' },
            },
          }),
          404: problem,
          409: problem,
        },
      },
    },
    [`${base}/{id}/events`]: {
      get: {
        summary: 'Event history, oldest first',
        parameters: [uuidParam],
        responses: { 200: items('events'), 404: problem },
      },
    },
    [`${base}/{id}/logs`]: {
      get: {
        summary: 'Driver logs (text); follow=true streams until the execution ends',
        parameters: [uuidParam, ...queryParameters(LogsQuery)],
        responses: { 200: { description: 'log text', content: { 'text/plain': {} } }, 400: problem, 404: problem },
      },
    },
  });

  const streamingControl = (action: 'stop' | 'resume'): Record<string, Operation> => ({
    post: {
      summary:
        action === 'stop'
          ? "Stop a streaming job's continuous loop (its current run ends)"
          : 'Resume a stopped or degraded streaming job',
      parameters: [streamingIdParam],
      responses: {
        200: json('the streaming job after the update', ref('StreamingJob')),
        404: problem,
        409: problem,
      },
    },
  });

  const scheduleAction = (
    summary: string,
    body: string,
    required: boolean,
    success: Record<string, object>,
  ): Record<string, Operation> => ({
    post: {
      summary,
      parameters: [scheduleIdParam],
      requestBody: jsonBody(body, required),
      responses: { ...success, 400: problem, 404: problem, 413: problem },
    },
  });

  // A manifest is sent as its YAML text, or as JSON { manifest, file }.
  const manifestBody = {
    required: true,
    content: {
      ...Object.fromEntries(YAML_TYPES.map((t) => [t, { schema: { type: 'string', description: 'manifest YAML' } }])),
      'application/json': { schema: ref('ManifestJsonBody') },
    },
  };

  const paths: Record<string, Record<string, Operation>> = {
    '/api/v1/jobs': {
      post: {
        summary: 'Submit a job: the full JobSpec, or the reference body',
        parameters: [
          ...queryParameters(SubmitQuery),
          { name: 'Idempotency-Key', in: 'header', required: false, schema: { type: 'string' } },
        ],
        requestBody: {
          required: true,
          content: {
            'application/json': { schema: { oneOf: [ref('SubmitBody'), ref('ReferenceSubmitBody')] } },
          },
        },
        responses: {
          202: { description: 'accepted' },
          200: { description: 'dry run: the backend payload' },
          400: problem,
          403: problem,
          409: problem,
          413: problem,
          422: problem,
        },
      },
    },
    '/api/v1/executions': {
      get: {
        summary: 'List executions, newest first',
        parameters: queryParameters(ListQuery),
        responses: {
          200: json('a page; next_cursor is absent on the last page', {
            type: 'object',
            properties: { items: { type: 'array', items: ref('Execution') }, next_cursor: { type: 'string' } },
            required: ['items'],
          }),
          400: problem,
        },
      },
    },
    ...executionPaths('/api/v1/jobs', {
      summary: "Check an execution, or a streaming job's state (id continuous-<team>.<name>)",
      parameters: [jobIdParam],
      responses: {
        200: json('the execution, or the streaming job', { oneOf: [ref('Execution'), ref('StreamingJob')] }),
        404: problem,
      },
    }),
    '/api/v1/jobs/{id}/stop': streamingControl('stop'),
    '/api/v1/jobs/{id}/resume': streamingControl('resume'),
    ...executionPaths('/api/v1/executions', {
      summary: 'Check an execution',
      parameters: [uuidParam],
      responses: { 200: execution, 404: problem },
    }),
    '/api/v1/manifests': {
      post: {
        summary: "Apply a manifest's jobs (an idempotent upsert); dryRun=true reports what would change",
        parameters: queryParameters(ManifestQuery),
        requestBody: manifestBody,
        responses: {
          200: json('each job with its action (create, update, unchanged) and field changes', {
            type: 'object',
            properties: {
              dry_run: { type: 'boolean' },
              changed: { type: 'boolean' },
              jobs: { type: 'array', items: { type: 'object' } },
            },
            required: ['dry_run', 'changed', 'jobs'],
          }),
          400: problem,
          403: problem,
          413: problem,
          415: problem,
          422: problem,
        },
      },
      delete: {
        summary: "Remove a manifest's jobs' schedules and stop their streaming loops (jobs and executions stay)",
        requestBody: manifestBody,
        responses: {
          200: json('each job with what was removed', {
            type: 'object',
            properties: { jobs: { type: 'array', items: { type: 'object' } } },
            required: ['jobs'],
          }),
          400: problem,
          403: problem,
          413: problem,
          415: problem,
        },
      },
    },
    '/api/v1/manifests/jobs': {
      get: { summary: 'The manifest jobs the caller may see', responses: { 200: items('the jobs') } },
    },
    '/api/v1/manifests/jobs/{team}/{name}': {
      get: {
        summary: 'One manifest job, with its schedule and last execution',
        parameters: [
          { name: 'team', in: 'path', required: true, schema: { type: 'string' } },
          { name: 'name', in: 'path', required: true, schema: { type: 'string' } },
        ],
        responses: { 200: json('the job', { type: 'object' }), 404: problem },
      },
    },
    '/api/v1/schedules': {
      get: { summary: 'The schedules the caller may see', responses: { 200: items('the schedules') } },
    },
    '/api/v1/schedules/{id}': {
      get: {
        summary: 'A schedule: its config, state, next run times and recent runs',
        parameters: [scheduleIdParam],
        responses: { 200: json('the schedule', { type: 'object' }), 404: problem },
      },
    },
    '/api/v1/schedules/{id}/pause': scheduleAction('Pause a schedule, with a note', 'ScheduleNote', false, {
      200: json('the schedule', { type: 'object' }),
    }),
    '/api/v1/schedules/{id}/unpause': scheduleAction('Unpause a schedule, with a note', 'ScheduleNote', false, {
      200: json('the schedule', { type: 'object' }),
    }),
    '/api/v1/schedules/{id}/trigger': scheduleAction('Run the job now', 'ScheduleTrigger', false, {
      202: json('triggered', {
        type: 'object',
        properties: { schedule_id: { type: 'string' }, triggered: { const: true } },
      }),
    }),
    '/api/v1/schedules/{id}/backfill': scheduleAction(
      'Run every time the schedule would have fired in [start, end)',
      'ScheduleBackfill',
      true,
      {
        202: json('backfill requested', {
          type: 'object',
          properties: {
            schedule_id: { type: 'string' },
            backfill: {
              type: 'object',
              properties: { start: { type: 'string' }, end: { type: 'string' } },
            },
          },
        }),
      },
    ),
    '/api/v1/openapi.json': {
      get: { summary: 'This document', security: [], responses: { 200: json('the OpenAPI document') } },
    },
    '/healthz': {
      get: { summary: 'Each dependency, separately', security: [], responses: { 200: { description: 'report' } } },
    },
    '/readyz': {
      get: {
        summary: '200 when every dependency is up',
        security: [],
        responses: { 200: { description: 'ready' }, 503: { description: 'not ready' } },
      },
    },
    '/metrics': {
      get: { summary: 'Prometheus metrics', security: [], responses: { 200: { description: 'text exposition' } } },
    },
  };
  // Everything that needs a token answers 401 without a valid one.
  for (const operations of Object.values(paths)) {
    for (const op of Object.values(operations)) {
      if (!op.security) op.responses[401] = problem;
    }
  }

  return {
    openapi: '3.1.0',
    info: { title: 'Spark Runner API', version: '1' },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: {
        ...Object.fromEntries(Object.entries(REQUEST_BODY_SCHEMAS).map(([name, s]) => [name, schema(s)])),
        Problem: {
          type: 'object',
          properties: {
            type: { type: 'string' },
            title: { type: 'string' },
            status: { type: 'integer' },
            detail: { type: 'string' },
            errors: {
              type: 'array',
              items: {
                type: 'object',
                properties: {
                  path: { type: 'string' },
                  message: { type: 'string' },
                  line: { type: 'integer', description: 'manifest problems: the line in the YAML' },
                  column: { type: 'integer', description: 'manifest problems: the column in the YAML' },
                },
              },
            },
          },
        },
        Execution: {
          type: 'object',
          properties: Object.fromEntries(
            [
              'job_id',
              'execution_id',
              'job_path',
              'team',
              'status',
              'backend',
              'cluster',
              'vendor_run_id',
              'submit_time',
              'start_time',
              'end_time',
              'spark_ui_url',
              'logs_url',
            ]
              .map((k): [string, object] => [k, { type: ['string', 'null'] }])
              .concat([
                ['attempts', { type: 'integer' }],
                ['error', { type: ['object', 'null'], properties: { class: {}, message: {} } }],
                ['resources', {}],
              ]),
          ),
        },
        StreamingJob: {
          type: 'object',
          properties: {
            job_id: { type: 'string' },
            job_path: { type: 'string' },
            team: { type: 'string' },
            job_type: { const: 'streaming' },
            status: { type: 'string' },
            spec_version: { type: 'integer' },
            running_spec_version: { type: ['integer', 'null'] },
            current_execution_id: { type: ['string', 'null'] },
            restart_count: { type: 'integer' },
            consecutive_failures: { type: 'integer' },
            last_failure: {},
            degraded: { type: 'boolean' },
            next_restart_at: { type: ['string', 'null'] },
            recent_execution_ids: { type: 'array', items: { type: 'string' } },
          },
        },
      },
    },
    security: [{ bearer: [] }],
    paths,
  };
}

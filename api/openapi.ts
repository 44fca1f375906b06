/**
 * GET /api/v1/openapi.json, generated from the same zod schemas that validate requests (zod 4's JSON Schema
 * output), so the document cannot drift from what the server accepts.
 */
import { z } from 'zod';
import { ReferenceSubmitBody } from './reference-body.js';
import { ListQuery, LogsQuery } from './routes/executions.js';
import { SubmitBody } from './routes/jobs.js';

const schema = (s: z.ZodType) => z.toJSONSchema(s, { io: 'input', unrepresentable: 'any' });

function queryParameters(s: z.ZodObject) {
  const json = schema(s) as { properties?: Record<string, object> };
  return Object.entries(json.properties ?? {}).map(([name, prop]) => ({
    name,
    in: 'query',
    required: false,
    schema: prop,
  }));
}

const problem = {
  description: 'problem details',
  content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
};
const idParam = { name: 'id', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } };
const execution = {
  description: 'the execution',
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Execution' } } },
};

export function openApiDocument(): object {
  const executionPaths = (base: string) => ({
    [`${base}/{id}`]: {
      get: { summary: 'Check an execution', parameters: [idParam], responses: { 200: execution, 404: problem } },
      delete: {
        summary: 'Cancel an execution',
        parameters: [idParam],
        responses: { 202: { description: 'cancel requested' }, 404: problem, 409: problem },
      },
    },
    [`${base}/{id}/events`]: {
      get: {
        summary: 'Event history, oldest first',
        parameters: [idParam],
        responses: { 200: { description: 'events' }, 404: problem },
      },
    },
    [`${base}/{id}/logs`]: {
      get: {
        summary: 'Driver logs (text); follow=true streams until the execution ends',
        parameters: [idParam, ...queryParameters(LogsQuery)],
        responses: { 200: { description: 'log text', content: { 'text/plain': {} } }, 404: problem },
      },
    },
  });
  return {
    openapi: '3.1.0',
    info: { title: 'Spark Runner API', version: '1' },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: {
        SubmitBody: schema(SubmitBody),
        ReferenceSubmitBody: schema(ReferenceSubmitBody),
        Problem: {
          type: 'object',
          properties: {
            type: { type: 'string' },
            title: { type: 'string' },
            status: { type: 'integer' },
            detail: { type: 'string' },
            errors: {
              type: 'array',
              items: { type: 'object', properties: { path: { type: 'string' }, message: { type: 'string' } } },
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
            ].map((k) => [k, { type: ['string', 'null'] }]),
          ),
        },
      },
    },
    security: [{ bearer: [] }],
    paths: {
      '/api/v1/jobs': {
        post: {
          summary: 'Submit a job: the full JobSpec, or the reference body',
          parameters: [
            { name: 'dryRun', in: 'query', required: false, schema: { type: 'string', enum: ['true', 'false'] } },
            { name: 'Idempotency-Key', in: 'header', required: false, schema: { type: 'string' } },
          ],
          requestBody: {
            required: true,
            content: {
              'application/json': {
                schema: {
                  oneOf: [
                    { $ref: '#/components/schemas/SubmitBody' },
                    { $ref: '#/components/schemas/ReferenceSubmitBody' },
                  ],
                },
              },
            },
          },
          responses: {
            202: { description: 'accepted' },
            200: { description: 'dry run: the backend payload' },
            400: problem,
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
          responses: { 200: { description: 'a page' }, 400: problem },
        },
      },
      ...executionPaths('/api/v1/jobs'),
      ...executionPaths('/api/v1/executions'),
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
    },
  };
}

/**
 * The job resource, `/api/v1/jobs`, named once: `{id}` is a job id `<team>.<name>` (the job: its definition,
 * schedule or streaming loop, and latest execution), an execution id (the reference's `GET /api/v1/jobs/{jobID}`:
 * one run's status), or a streaming job's loop id `continuous-<team>.<name>` (kept for clients of the first API).
 * POST submits (the full JobSpec or the reference's body; `?dryRun=true` shows the placement and payload).
 * The execution routes (events, logs, cancel) are in executions.ts, under both bases.
 */
import type { Client } from '@temporalio/client';
import { z } from 'zod';
import { apiPublicUrl, type Config } from '../../config/index.js';
import type { SparkGateway } from '../../gateway/index.js';
import { JobSpec, type NormalizedJobSpec } from '../../schema/job-spec.js';
import { jobPathOfContinuousId, jobPathOfJobId, teamOfJobPath } from '../../schema/vocabulary.js';
import {
  continuousState,
  controlContinuousJob,
  resizeContinuousJob,
  ResourcesPatch,
} from '../../service/continuous.js';
import { getJobOverview, listJobOverviews, type ManifestDeps } from '../../service/manifests.js';
import { recommendFor } from '../../service/sizing.js';
import { previewSubmission, submitExecution } from '../../service/submit.js';
import type { ExecutionStore } from '../../store/executions.js';
import { authorizeOwner, authorizeTeam, USER_NAME } from '../auth.js';
import type { ApiMetrics } from '../metrics.js';
import { HttpProblem, validationProblem } from '../problem.js';
import { fromReferenceBody, isReferenceBody, ReferenceSubmitBody, referencePath } from '../reference-body.js';
import { defineRoute, reply, type Route } from '../route.js';
import { dryRunView, executionView, jobView, recommendationView, streamingView } from '../views.js';
import * as wire from '../wire.js';

export interface JobRoutesDeps {
  client: Client;
  store: ExecutionStore;
  gateway: SparkGateway;
  config: Config;
  metrics: ApiMetrics;
}

const TEAM = z.string().regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/, 'must be a lowercase DNS label');

/** A submit body: the full JobSpec plus who submits it. */
export const SubmitBody = JobSpec.extend({
  team: TEAM.optional(),
  user: USER_NAME.optional(),
  idempotency_key: z.string().min(1).max(200).optional(),
});

export const SubmitQuery = z.object({ dryRun: z.enum(['true', 'false']).optional() }).strict();

const IdParams = z.object({ id: z.string() });

interface ParsedSubmit {
  team?: string;
  user?: string;
  idempotencyKey?: string;
  spec: NormalizedJobSpec;
}

function parseSubmit(body: unknown, config: Config): ParsedSubmit {
  if (isReferenceBody(body)) {
    const ref = ReferenceSubmitBody.safeParse(body);
    if (!ref.success) throw validationProblem(ref.error);
    const spec = JobSpec.safeParse(
      fromReferenceBody(ref.data, { jarTemplate: config.CORE_ETL_JAR_TEMPLATE, mainClass: config.CORE_ETL_MAIN_CLASS }),
    );
    if (!spec.success) {
      const problem = validationProblem(spec.error);
      const errors = (problem.errors ?? []).map((e) => ({ ...e, path: referencePath(e.path) }));
      throw new HttpProblem(400, problem.title, errors.map((e) => `${e.path}: ${e.message}`).join('; '), errors);
    }
    const team = ref.data.team === undefined ? undefined : TEAM.safeParse(ref.data.team);
    if (team && !team.success) throw validationProblem(team.error, 'team');
    return { team: team?.data, user: ref.data.user, idempotencyKey: ref.data.idempotency_key, spec: spec.data };
  }
  const parsed = SubmitBody.safeParse(body);
  if (!parsed.success) throw validationProblem(parsed.error);
  const { team, user, idempotency_key, ...spec } = parsed.data;
  return { team, user, idempotencyKey: idempotency_key, spec };
}

/** A streaming job runs under its continuous loop, which only a manifest starts. */
function assertBatch(spec: NormalizedJobSpec): void {
  if (spec.jobType === 'streaming') {
    throw new HttpProblem(
      422,
      'Unprocessable request',
      'a streaming job runs under a continuous loop that restarts it from its checkpoint: declare it in a manifest ' +
        '(kind: SparkJob, jobType: streaming) and apply it with POST /api/v1/manifests or `spark-runner apply`',
      [{ path: 'jobType', message: 'streaming jobs are applied as manifests, not submitted' }],
    );
  }
}

/** Submissions from the spark-runner CLI are recorded as such (it identifies itself in User-Agent). */
function triggerOf(userAgent: string | undefined): 'cli' | 'api' {
  return userAgent?.startsWith('spark-runner-cli') ? 'cli' : 'api';
}

export function jobRoutes(deps: JobRoutesDeps & ManifestDeps): Route[] {
  const { client, store, gateway, config, metrics } = deps;
  const actor = (p: { team: string; role: 'member' | 'admin' }) => ({ team: p.team, role: p.role });

  return [
    defineRoute({
      method: 'post',
      path: '/api/v1/jobs',
      summary: 'Submit a job: the full JobSpec, or the reference body',
      query: SubmitQuery,
      headers: [{ name: 'Idempotency-Key', description: 'a repeat with the same key returns the same execution' }],
      body: { json: { SubmitBody, ReferenceSubmitBody }, schema: z.unknown(), required: true },
      responses: {
        202: wire.SubmitAccepted,
        200: wire.DryRun,
        400: 'problem',
        403: 'problem',
        409: 'problem',
        413: 'problem',
        422: 'problem',
      },
      async handler({ query, body, principal, req }) {
        const parsed = parseSubmit(body, config);
        const team = authorizeTeam(principal, { submit: parsed.team });
        const owner = authorizeOwner(principal, parsed.user);
        const idempotencyKey = req.get('Idempotency-Key') ?? parsed.idempotencyKey;
        const started = performance.now();
        const took = () => (performance.now() - started) / 1000;
        try {
          assertBatch(parsed.spec);
          if (query.dryRun === 'true') {
            const dry = await previewSubmission(
              { config, gateway, store },
              { team, owner, spec: parsed.spec, idempotencyKey },
            );
            return reply(200, wire.DryRun, dryRunView(dry));
          }
          const { execution, created } = await submitExecution(
            { client, store, config, gateway },
            { team, owner, trigger: triggerOf(req.get('User-Agent')), spec: parsed.spec, idempotencyKey },
          );
          metrics.submissions.inc({ outcome: created ? 'created' : 'repeat' });
          metrics.submitSeconds.observe({ outcome: created ? 'created' : 'repeat' }, took());
          const view = executionView(execution, apiPublicUrl(config));
          return reply(202, wire.SubmitAccepted, {
            job_id: view.job_id,
            execution_id: view.execution_id,
            job_path: view.job_path,
            status: view.status,
            message: created ? 'Job submitted successfully' : 'Job already submitted with this idempotency key',
          });
        } catch (err) {
          metrics.submissions.inc({ outcome: 'rejected' });
          metrics.submitSeconds.observe({ outcome: 'rejected' }, took());
          throw err;
        }
      },
    }),

    defineRoute({
      method: 'get',
      path: '/api/v1/jobs/{id}',
      summary:
        'A job (id <team>.<name>), one execution of it (id: the execution id), or a streaming job (continuous-<team>.<name>)',
      params: IdParams,
      responses: { 200: z.union([wire.Job, wire.Execution, wire.StreamingJob]), 404: 'problem', 503: 'problem' },
      async handler({ params, principal }) {
        const { id } = params;
        const loop = jobPathOfContinuousId(id);
        if (loop) {
          authorizeTeam(principal, { read: teamOfJobPath(loop), what: `job "${id}"` });
          const state = await continuousState(deps, loop);
          if (!state) throw new HttpProblem(404, 'Not found', `no streaming job "${id}"`);
          return reply(200, wire.StreamingJob, streamingView(id, state));
        }
        const jobPath = jobPathOfJobId(id);
        if (jobPath) {
          authorizeTeam(principal, { read: teamOfJobPath(jobPath), what: `job "${id}"` });
          const job = await getJobOverview(deps, actor(principal), jobPath);
          if (!job) throw new HttpProblem(404, 'Not found', `no job "${id}"`);
          return reply(200, wire.Job, jobView(job, apiPublicUrl(config)));
        }
        const row = await visibleExecution(store, principal, id);
        return reply(200, wire.Execution, executionView(row, apiPublicUrl(config)));
      },
    }),

    defineRoute({
      method: 'get',
      path: '/api/v1/jobs',
      summary:
        'The jobs the caller may see (manifest-defined and submitted), each with its latest execution (a streaming ' +
        "job's live loop state is on GET /api/v1/jobs/{id})",
      responses: { 200: z.object({ items: z.array(wire.Job) }) },
      async handler({ principal }) {
        const jobs = await listJobOverviews(deps, actor(principal));
        return reply(200, z.object({ items: z.array(wire.Job) }), {
          items: jobs.map((job) => jobView(job, apiPublicUrl(config))),
        });
      },
    }),

    defineRoute({
      method: 'get',
      path: '/api/v1/jobs/{id}/recommendation',
      summary:
        "APS's sizing recommendation for a job's next run, from its recent executions (id <team>.<name> or " +
        'continuous-<team>.<name>): each field with its reason, and a confidence',
      params: IdParams,
      responses: { 200: wire.Recommendation, 404: 'problem' },
      async handler({ params, principal }) {
        const { id } = params;
        const jobPath = jobPathOfContinuousId(id) ?? jobPathOfJobId(id);
        if (!jobPath) throw new HttpProblem(404, 'Not found', `no job "${id}": use <team>.<name>`);
        const team = teamOfJobPath(jobPath);
        authorizeTeam(principal, { read: team, what: `job "${id}"` });
        const job = await store.getJob(jobPath);
        if (!job) throw new HttpProblem(404, 'Not found', `no job "${id}"`);
        const rec = await recommendFor({ store, config }, { team, jobPath, requested: job.spec.resources });
        return reply(200, wire.Recommendation, recommendationView(jobPath, job.spec.sizing ?? 'manual', rec));
      },
    }),

    defineRoute({
      method: 'patch',
      path: '/api/v1/jobs/{id}/resources',
      summary:
        'DCR: resize a streaming job (id continuous-<team>.<name> or <team>.<name>): a controlled restart from its ' +
        'checkpoint with the new resources (the fields given; the rest unchanged)',
      params: IdParams,
      body: { json: { ResourcesPatch }, schema: ResourcesPatch, required: true },
      responses: { 200: wire.StreamingJob, 400: 'problem', 404: 'problem', 409: 'problem', 422: 'problem' },
      async handler({ params, body, principal }) {
        const { id } = params;
        const jobPath = jobPathOfContinuousId(id) ?? jobPathOfJobId(id);
        if (!jobPath) throw new HttpProblem(404, 'Not found', `no streaming job "${id}"`);
        authorizeTeam(principal, { read: teamOfJobPath(jobPath), what: `job "${id}"` });
        const state = await resizeContinuousJob(deps, jobPath, body);
        return reply(200, wire.StreamingJob, streamingView(id, state));
      },
    }),

    ...(['stop', 'resume'] as const).map((action) =>
      defineRoute({
        method: 'post',
        path: `/api/v1/jobs/{id}/${action}`,
        summary:
          action === 'stop'
            ? "Stop a streaming job's continuous loop (its current run ends); id <team>.<name> or continuous-<team>.<name>"
            : 'Resume a stopped or degraded streaming job; id <team>.<name> or continuous-<team>.<name>',
        params: IdParams,
        responses: { 200: wire.StreamingJob, 404: 'problem', 409: 'problem' },
        async handler({ params, principal }) {
          const { id } = params;
          const jobPath = jobPathOfContinuousId(id) ?? jobPathOfJobId(id);
          if (!jobPath) throw new HttpProblem(404, 'Not found', `no streaming job "${id}"`);
          authorizeTeam(principal, { read: teamOfJobPath(jobPath), what: `job "${id}"` });
          const state = await controlContinuousJob(
            deps,
            jobPath,
            action === 'stop' ? { stop: { reason: `stopped by ${principal.name}` } } : { resume: true },
          );
          return reply(200, wire.StreamingJob, streamingView(id, state));
        },
      }),
    ),
  ];
}

/** An execution the principal may see, by the id in the path; 404 for a malformed, unknown or foreign id. */
export async function visibleExecution(
  store: ExecutionStore,
  principal: Parameters<typeof authorizeTeam>[0],
  id: string,
) {
  const uuid = z.uuid().safeParse(id);
  const row = uuid.success ? await store.getExecution(uuid.data) : undefined;
  if (!row) throw new HttpProblem(404, 'Not found', `no execution "${id}"`);
  authorizeTeam(principal, { read: row.team, what: `execution "${id}"` });
  return row;
}

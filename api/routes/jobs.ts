/**
 * POST /api/v1/jobs: Submit. Accepts the full JobSpec or the reference's body, takes the team from the token
 * (admins name it), honours `Idempotency-Key`, and with `?dryRun=true` returns the backend payload that would
 * be sent without creating anything.
 */
import type { Client } from '@temporalio/client';
import { Router } from 'express';
import { z } from 'zod';
import type { Config } from '../../config/index.js';
import { BackendRejection } from '../../gateway/backend.js';
import type { SparkGateway } from '../../gateway/index.js';
import { JobSpec, type NormalizedJobSpec } from '../../schema/job-spec.js';
import type { ExecutionStore } from '../../store/executions.js';
import { previewSubmission, submitExecution, SubmitRejected } from '../../service/submit.js';
import type { Principal } from '../auth.js';
import type { ApiMetrics } from '../metrics.js';
import { HttpProblem, validationProblem } from '../problem.js';
import { fromReferenceBody, isReferenceBody, ReferenceSubmitBody } from '../reference-body.js';
import { dryRunView } from '../views.js';

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
  user: z.string().min(1).optional(),
  idempotency_key: z.string().min(1).max(200).optional(),
});

export const SubmitQuery = z.object({ dryRun: z.enum(['true', 'false']).optional() }).strict();

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
    if (!spec.success) throw validationProblem(spec.error);
    const team = ref.data.team === undefined ? undefined : TEAM.safeParse(ref.data.team);
    if (team && !team.success) throw validationProblem(team.error, 'team');
    return { team: team?.data, user: ref.data.user, idempotencyKey: ref.data.idempotency_key, spec: spec.data };
  }
  const parsed = SubmitBody.safeParse(body);
  if (!parsed.success) throw validationProblem(parsed.error);
  const { team, user, idempotency_key, ...spec } = parsed.data;
  return { team, user, idempotencyKey: idempotency_key, spec };
}

/** Members submit for their own team; admins must say which team. */
function teamFor(principal: Principal, requested: string | undefined): string {
  if (principal.role === 'admin') {
    if (!requested)
      throw new HttpProblem(400, 'Invalid request', 'team is required when submitting with an admin token', [
        { path: 'team', message: 'required' },
      ]);
    return requested;
  }
  if (requested && requested !== principal.team) {
    throw new HttpProblem(
      403,
      'Forbidden',
      `this token belongs to team "${principal.team}"; it cannot submit for team "${requested}"`,
    );
  }
  return principal.team;
}

function rejection(err: unknown): never {
  if (err instanceof SubmitRejected) {
    const title = err.status === 409 ? 'Conflict' : 'Unprocessable request';
    throw new HttpProblem(
      err.status,
      title,
      err.message,
      err.field ? [{ path: err.field, message: err.message }] : undefined,
    );
  }
  if (err instanceof BackendRejection)
    throw new HttpProblem(422, 'Unprocessable request', err.message, [{ path: 'backend', message: err.message }]);
  throw err;
}

/** Submissions from the spark-runner CLI are recorded as such (it identifies itself in User-Agent). */
function triggerOf(userAgent: string | undefined): 'cli' | 'api' {
  return userAgent?.startsWith('spark-runner-cli') ? 'cli' : 'api';
}

export function jobRoutes({ client, store, gateway, config, metrics }: JobRoutesDeps): Router {
  const router = Router();

  router.post('/api/v1/jobs', async (req, res) => {
    const query = SubmitQuery.safeParse(req.query);
    if (!query.success) throw validationProblem(query.error, 'query');
    const parsed = parseSubmit(req.body, config);
    const team = teamFor(req.principal!, parsed.team);
    const owner = parsed.user ?? req.principal!.name;
    const idempotencyKey = req.get('Idempotency-Key') ?? parsed.idempotencyKey;
    try {
      if (query.data.dryRun === 'true') {
        res.json(
          dryRunView(await previewSubmission({ config, gateway }, { team, owner, spec: parsed.spec, idempotencyKey })),
        );
        return;
      }
      const { execution, created } = await submitExecution(
        { client, store, config, gateway },
        { team, owner, trigger: triggerOf(req.get('User-Agent')), spec: parsed.spec, idempotencyKey },
      );
      metrics.submissions.inc({ outcome: created ? 'created' : 'repeat' });
      res.status(202).json({
        job_id: execution.executionId,
        execution_id: execution.executionId,
        job_path: execution.jobPath,
        status: execution.state,
        message: created ? 'Job submitted successfully' : 'Job already submitted with this idempotency key',
      });
    } catch (err) {
      metrics.submissions.inc({ outcome: 'rejected' });
      rejection(err);
    }
  });

  return router;
}

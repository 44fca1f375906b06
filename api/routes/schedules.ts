/**
 * /api/v1/schedules: the Temporal Schedules of manifest jobs. List, describe (next run times, recent runs),
 * pause/unpause with a note, trigger now, backfill a time range. Members see and act on their team's only; a
 * schedule of another team is a 404, as if it did not exist.
 */
import { Router } from 'express';
import { z } from 'zod';
import { OVERLAP_POLICIES } from '../../dcp/schedule.js';
import {
  backfillSchedule,
  getSchedule,
  jobPathOfSchedule,
  listSchedules,
  pauseSchedule,
  ScheduleNotFound,
  triggerSchedule,
  unpauseSchedule,
  type ScheduleDeps,
} from '../../service/schedules.js';
import { canAccess, type Principal } from '../auth.js';
import { HttpProblem, validationProblem } from '../problem.js';

export const ScheduleNote = z.object({ note: z.string().max(500).optional() }).strict();
export const ScheduleTrigger = z.object({ overlap: z.enum(OVERLAP_POLICIES).optional() }).strict();
export const ScheduleBackfill = z
  .object({
    start: z.iso.datetime({ offset: true }),
    end: z.iso.datetime({ offset: true }),
    overlap: z.enum(OVERLAP_POLICIES).optional(),
  })
  .strict()
  .refine((b) => new Date(b.start) < new Date(b.end), { message: 'start must be before end', path: ['end'] });

function parse<T>(schema: z.ZodType<T>, body: unknown): T {
  const parsed = schema.safeParse(body ?? {});
  if (!parsed.success) throw validationProblem(parsed.error);
  return parsed.data;
}

/** The schedule id, once the caller may see it; 404 otherwise. */
function visible(principal: Principal, id: string): string {
  const jobPath = jobPathOfSchedule(id);
  if (!jobPath || !canAccess(principal, jobPath.split('/')[0]!)) {
    throw new HttpProblem(404, 'Not found', `no schedule "${id}"`);
  }
  return id;
}

async function orNotFound<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (err) {
    if (err instanceof ScheduleNotFound) throw new HttpProblem(404, 'Not found', err.message);
    throw err;
  }
}

export function scheduleRoutes(deps: ScheduleDeps): Router {
  const router = Router();

  router.get('/api/v1/schedules', async (req, res) => {
    const p = req.principal!;
    res.json({ items: await listSchedules(deps, p.role === 'admin' ? undefined : p.team) });
  });

  router.get('/api/v1/schedules/:id', async (req, res) => {
    const id = visible(req.principal!, req.params.id);
    res.json(await orNotFound(getSchedule(deps, id)));
  });

  router.post('/api/v1/schedules/:id/pause', async (req, res) => {
    const id = visible(req.principal!, req.params.id);
    const { note } = parse(ScheduleNote, req.body);
    await orNotFound(pauseSchedule(deps.client, id, note ?? `paused by ${req.principal!.name}`));
    res.json(await getSchedule(deps, id));
  });

  router.post('/api/v1/schedules/:id/unpause', async (req, res) => {
    const id = visible(req.principal!, req.params.id);
    const { note } = parse(ScheduleNote, req.body);
    await orNotFound(unpauseSchedule(deps.client, id, note ?? `unpaused by ${req.principal!.name}`));
    res.json(await getSchedule(deps, id));
  });

  router.post('/api/v1/schedules/:id/trigger', async (req, res) => {
    const id = visible(req.principal!, req.params.id);
    const { overlap } = parse(ScheduleTrigger, req.body);
    await orNotFound(triggerSchedule(deps.client, id, overlap));
    res.status(202).json({ schedule_id: id, triggered: true });
  });

  router.post('/api/v1/schedules/:id/backfill', async (req, res) => {
    const id = visible(req.principal!, req.params.id);
    const body = parse(ScheduleBackfill, req.body);
    await orNotFound(
      backfillSchedule(deps.client, id, {
        start: new Date(body.start),
        end: new Date(body.end),
        overlap: body.overlap,
      }),
    );
    res.status(202).json({ schedule_id: id, backfill: { start: body.start, end: body.end } });
  });

  return router;
}

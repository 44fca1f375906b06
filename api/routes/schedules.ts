/**
 * /api/v1/schedules: the Temporal Schedules of manifest jobs. List, describe (next run times, recent runs),
 * pause/unpause with a note, trigger now, backfill a time range. Members see and act on their team's only; a
 * schedule of another team is a 404, as if it did not exist.
 */
import { z } from 'zod';
import { OVERLAP_POLICIES } from '../../dcp/schedule.js';
import { jobPathOfScheduleId, teamOfJobPath } from '../../schema/vocabulary.js';
import {
  backfillSchedule,
  getSchedule,
  listSchedules,
  pauseSchedule,
  ScheduleNotFound,
  triggerSchedule,
  unpauseSchedule,
  type ScheduleDeps,
} from '../../service/schedules.js';
import { authorizeTeam, type Principal } from '../auth.js';
import { defineRoute, reply, type Route } from '../route.js';
import * as wire from '../wire.js';

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

const IdParams = z.object({ id: z.string() });

/** The schedule id, once the caller may see it; 404 otherwise. */
function visible(principal: Principal, id: string): string {
  const jobPath = jobPathOfScheduleId(id);
  if (!jobPath) throw new ScheduleNotFound(`no schedule "${id}"`);
  authorizeTeam(principal, { read: teamOfJobPath(jobPath), what: `schedule "${id}"` });
  return id;
}

export function scheduleRoutes(deps: ScheduleDeps): Route[] {
  const action = (name: 'pause' | 'unpause', summary: string, run: (id: string, note: string) => Promise<unknown>) =>
    defineRoute({
      method: 'post',
      path: `/api/v1/schedules/{id}/${name}`,
      summary,
      params: IdParams,
      body: { json: { ScheduleNote }, schema: ScheduleNote.prefault({}) },
      responses: { 200: wire.Schedule, 400: 'problem', 404: 'problem', 413: 'problem' },
      async handler({ params, body, principal }) {
        const id = visible(principal, params.id);
        await run(id, body.note ?? `${name}d by ${principal.name}`);
        return reply(200, wire.Schedule, await getSchedule(deps, id));
      },
    });

  return [
    defineRoute({
      method: 'get',
      path: '/api/v1/schedules',
      summary: 'The schedules the caller may see',
      responses: { 200: wire.ScheduleList },
      async handler({ principal }) {
        return reply(200, wire.ScheduleList, {
          items: await listSchedules(deps, principal.role === 'admin' ? undefined : principal.team),
        });
      },
    }),
    defineRoute({
      method: 'get',
      path: '/api/v1/schedules/{id}',
      summary: 'A schedule: its config, state, next run times and recent runs',
      params: IdParams,
      responses: { 200: wire.Schedule, 404: 'problem' },
      async handler({ params, principal }) {
        return reply(200, wire.Schedule, await getSchedule(deps, visible(principal, params.id)));
      },
    }),
    action('pause', 'Pause a schedule, with a note', (id, note) => pauseSchedule(deps.client, id, note)),
    action('unpause', 'Unpause a schedule, with a note', (id, note) => unpauseSchedule(deps.client, id, note)),
    defineRoute({
      method: 'post',
      path: '/api/v1/schedules/{id}/trigger',
      summary: 'Run the job now',
      params: IdParams,
      body: { json: { ScheduleTrigger }, schema: ScheduleTrigger.prefault({}) },
      responses: { 202: wire.ScheduleTriggered, 400: 'problem', 404: 'problem', 413: 'problem' },
      async handler({ params, body, principal }) {
        const id = visible(principal, params.id);
        await triggerSchedule(deps.client, id, body.overlap);
        return reply(202, wire.ScheduleTriggered, { schedule_id: id, triggered: true });
      },
    }),
    defineRoute({
      method: 'post',
      path: '/api/v1/schedules/{id}/backfill',
      summary: 'Run every time the schedule would have fired in [start, end)',
      params: IdParams,
      body: { json: { ScheduleBackfill }, schema: ScheduleBackfill, required: true },
      responses: { 202: wire.BackfillAccepted, 400: 'problem', 404: 'problem', 413: 'problem' },
      async handler({ params, body, principal }) {
        const id = visible(principal, params.id);
        await backfillSchedule(deps.client, id, {
          start: new Date(body.start),
          end: new Date(body.end),
          overlap: body.overlap,
        });
        return reply(202, wire.BackfillAccepted, { schedule_id: id, backfill: { start: body.start, end: body.end } });
      },
    }),
  ];
}

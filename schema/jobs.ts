import { boolean, jsonb, pgTable, text, timestamp, index } from 'drizzle-orm/pg-core';
import type { NormalizedJobSpec } from './job-spec.js';

/**
 * A job definition, `job_path = <team>/<name>`. Created by a manifest apply or implicitly by a REST submit; holds
 * the latest normalized spec.
 */
export const jobs = pgTable(
  'jobs',
  {
    jobPath: text('job_path').primaryKey(),
    team: text('team').notNull(),
    name: text('name').notNull(),
    owner: text('owner'),
    spec: jsonb('spec').$type<NormalizedJobSpec>().notNull(),
    /**
     * Whether a Temporal Schedule drives the job: set by manifest apply and delete, false for a job a submit
     * created. Null on rows written before it was recorded; lists look those up in Temporal, and skip the rest.
     */
    scheduled: boolean('scheduled'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('jobs_team_idx').on(t.team)],
);

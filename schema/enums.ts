import { pgEnum } from 'drizzle-orm/pg-core';
import { EVENT_TYPES, EXECUTION_STATES } from './states.js';

/** Derived from the single tuple in states.ts so Postgres, zod and TypeScript agree (STYLE.md §2). */
export const executionStateEnum = pgEnum('execution_state', EXECUTION_STATES);
export const eventTypeEnum = pgEnum('event_type', EVENT_TYPES);

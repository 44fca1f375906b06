import { pgEnum } from 'drizzle-orm/pg-core';
import { SERVER_STATES, SESSION_EVENT_TYPES, SESSION_STATES } from './session-states.js';

/** Derived from the tuples in session-states.ts, so Postgres, zod and TypeScript agree (STYLE.md §2). */
export const sessionStateEnum = pgEnum('session_state', SESSION_STATES);
export const sessionEventTypeEnum = pgEnum('session_event_type', SESSION_EVENT_TYPES);
export const serverStateEnum = pgEnum('connect_server_state', SERVER_STATES);

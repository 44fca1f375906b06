/**
 * The vocabulary of interactive Spark Connect sessions and the warm pools they lease servers from, declared once
 * (STYLE.md §2): the Drizzle enums (session-enums.ts), the zod enums (api/wire.ts) and the TypeScript types all
 * come from these tuples. Pure: the workflow sandbox imports it.
 *
 *   REQUESTED ─┬─ a warm server of the pool is leased ─► LEASED ───┐
 *              └─ none is warm: a cold start ─────────► STARTING ─┤
 *                                                                 ▼
 *                                         READY ◄── an RPC ── IDLE        (the session token works in both)
 *                                           └── no RPC open, none started ──┘
 *   any state ── release, idle timeout, maximum lifetime, server lost, start failed ──► ENDED
 */
export const SESSION_STATES = ['REQUESTED', 'STARTING', 'LEASED', 'READY', 'IDLE', 'ENDED'] as const;
export type SessionState = (typeof SESSION_STATES)[number];

/** The states in which the session's token opens RPCs through the proxy. */
export const CONNECTABLE_STATES = ['READY', 'IDLE'] as const satisfies readonly SessionState[];

export function isConnectable(state: SessionState): boolean {
  return (CONNECTABLE_STATES as readonly string[]).includes(state);
}

/**
 * How long the gateway's proxy keeps a token's route (gateway/connect/session-proxy.ts); an ended session's token
 * can still reach its server for that long.
 */
export const SESSION_ROUTE_CACHE_MS = 1000;

/**
 * Between ENDED and the server's stop, the session workflow waits out the proxy's route cache twice over, so an RPC
 * let through just before the end is answered by a live server, and every later one is refused by the proxy: a
 * client sees UNAUTHENTICATED "session … has ended", never a server half way through its shutdown.
 */
export const SESSION_END_DRAIN_MS = 2 * SESSION_ROUTE_CACHE_MS;

/** Why a session ended. */
export const SESSION_END_REASONS = ['RELEASED', 'IDLE_TIMEOUT', 'MAX_LIFETIME', 'SERVER_LOST', 'START_FAILED'] as const;
export type SessionEndReason = (typeof SESSION_END_REASONS)[number];

/** Events of the append-only `session_events` table: each state entered, plus the release request. */
export const SESSION_EVENT_TYPES = [
  'REQUESTED',
  'STARTING',
  'LEASED',
  'READY',
  'IDLE',
  'RELEASE_REQUESTED',
  'ENDED',
] as const;
export type SessionEventType = (typeof SESSION_EVENT_TYPES)[number];

/**
 * A Spark Connect server's life: STARTING (its process or SparkApplication is being brought up), WARM (ready, in a
 * pool, nobody's), LEASED (serving exactly one session), STOPPED (gone, for whatever reason). Never back.
 */
export const SERVER_STATES = ['STARTING', 'WARM', 'LEASED', 'STOPPED'] as const;
export type ServerState = (typeof SERVER_STATES)[number];

/** The backends that can host a Spark Connect server. */
export const CONNECT_BACKENDS = ['local', 'kubernetes'] as const;
export type ConnectBackendName = (typeof CONNECT_BACKENDS)[number];

/** The team of a pool that serves every team of the default domain (the default pool of `npm run dev`). */
export const ANY_TEAM = '*';

/** The name of the pool `SESSION_DEFAULT_POOL_SIZE` keeps warm. */
export const DEFAULT_POOL = 'default';

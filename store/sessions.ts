/**
 * The sessions store: `sessions` snapshot rows with their append-only `session_events` (the executions' model),
 * the warm pools (`session_pools`) and every Spark Connect server (`connect_servers`).
 *
 * Every write is idempotent, so activities may retry freely:
 * - a session event is (event insert + snapshot patch) in one transaction, keyed by a deterministic event id;
 * - a server row is inserted before its server is started (ON CONFLICT DO NOTHING), so no server ever runs without
 *   a row naming it;
 * - a lease is one `UPDATE … WHERE server_id = (SELECT … FOR UPDATE SKIP LOCKED)`: two sessions never get the same
 *   server, and a session asking again gets the server it already has.
 */
import crypto from 'node:crypto';
import { and, asc, desc, eq, inArray, isNull, ne, or, sql, type SQL } from 'drizzle-orm';
import { connectServers, sessionEvents, sessionPools, sessions } from '../schema/index.js';
import type { SessionEventType, SessionState } from '../schema/session-states.js';
import type { Db } from './db.js';
import { eventIdFor } from './ids.js';

export type SessionRow = typeof sessions.$inferSelect;
export type NewSession = typeof sessions.$inferInsert;
export type SessionPatch = Partial<Omit<NewSession, 'sessionId' | 'createdAt'>>;
export type SessionEventRow = typeof sessionEvents.$inferSelect;
export type PoolRow = typeof sessionPools.$inferSelect;
export type NewPool = typeof sessionPools.$inferInsert;
export type ServerRow = typeof connectServers.$inferSelect;
export type NewServer = typeof connectServers.$inferInsert;
export type ServerPatch = Partial<Omit<NewServer, 'serverId' | 'createdAt'>>;

/** How a session token is kept: its SHA-256, hex. The token itself is shown once, in the create's answer. */
export function hashSessionToken(token: string): string {
  return crypto.createHash('sha256').update(token, 'utf8').digest('hex');
}

/** A new session token: 32 random bytes, base64url (URL-safe, so it sits in `sc://…/;token=…` as is). */
export function mintSessionToken(): string {
  return crypto.randomBytes(32).toString('base64url');
}

export interface SessionEventInput {
  sessionId: string;
  type: SessionEventType;
  /** The workflow's transition number: READY and IDLE may alternate, and each time is its own event. */
  n: number;
  at: Date;
  payload: Record<string, unknown>;
  /** Snapshot fields to change together with the event; applied only when the event is new. */
  patch?: SessionPatch;
}

export interface SessionFilter {
  team?: string;
  state?: SessionState;
  limit: number;
}

/** What the proxy needs for one token: the session, and its server once it has one. */
export interface TokenLookup {
  session: SessionRow;
  server?: ServerRow;
}

export class SessionStore {
  constructor(private readonly db: Db) {}

  // ── sessions ──────────────────────────────────────────────────────────────────────────────────────────────

  /** Inserts the session unless it exists; returns the stored row either way. */
  async createSession(row: NewSession): Promise<SessionRow> {
    const inserted = await this.db.insert(sessions).values(row).onConflictDoNothing().returning();
    if (inserted[0]) return inserted[0];
    const existing = await this.getSession(row.sessionId);
    if (!existing) throw new Error(`session ${row.sessionId} vanished during create`);
    return existing;
  }

  async getSession(sessionId: string): Promise<SessionRow | undefined> {
    const [row] = await this.db.select().from(sessions).where(eq(sessions.sessionId, sessionId));
    return row;
  }

  /** Newest first. */
  async listSessions(filter: SessionFilter): Promise<SessionRow[]> {
    const where: SQL[] = [];
    if (filter.team) where.push(eq(sessions.team, filter.team));
    if (filter.state) where.push(eq(sessions.state, filter.state));
    return this.db
      .select()
      .from(sessions)
      .where(and(...where))
      .orderBy(desc(sessions.createdAt), desc(sessions.sessionId))
      .limit(filter.limit);
  }

  /** The session a token hash belongs to, with its server. */
  async byTokenHash(tokenHash: string): Promise<TokenLookup | undefined> {
    const [row] = await this.db
      .select({ session: sessions, server: connectServers })
      .from(sessions)
      .leftJoin(connectServers, eq(connectServers.serverId, sessions.serverId))
      .where(eq(sessions.tokenHash, tokenHash));
    if (!row) return undefined;
    return row.server ? { session: row.session, server: row.server } : { session: row.session };
  }

  /** Appends the event and applies its snapshot patch, once. Returns false when the event was already there. */
  async recordEvent(input: SessionEventInput): Promise<boolean> {
    const eventId = eventIdFor(input.sessionId, input.n, input.type);
    return this.db.transaction(async (tx) => {
      const inserted = await tx
        .insert(sessionEvents)
        .values({
          eventId,
          sessionId: input.sessionId,
          eventType: input.type,
          timestamp: input.at,
          payload: input.payload,
        })
        .onConflictDoNothing()
        .returning({ seq: sessionEvents.seq });
      if (inserted.length === 0) return false;
      if (input.patch) {
        await tx
          .update(sessions)
          .set({ ...input.patch, updatedAt: new Date() })
          .where(eq(sessions.sessionId, input.sessionId));
      }
      return true;
    });
  }

  async events(sessionId: string): Promise<SessionEventRow[]> {
    return this.db
      .select()
      .from(sessionEvents)
      .where(eq(sessionEvents.sessionId, sessionId))
      .orderBy(asc(sessionEvents.seq));
  }

  /**
   * The proxy's flush: these sessions had an RPC open (or one just ended) since the last flush. The time is the
   * database's, like the idle check's, so the API's and the worker's clocks never have to agree.
   */
  async touch(sessionIds: readonly string[]): Promise<void> {
    if (sessionIds.length === 0) return;
    await this.db
      .update(sessions)
      .set({ lastActivityAt: sql`now()` })
      .where(inArray(sessions.sessionId, [...sessionIds]));
  }

  /** How long the session has been quiet: since its last activity, else since it became ready (database time). */
  async quietMs(sessionId: string): Promise<number | undefined> {
    const { rows } = await this.db.execute<{ quiet_ms: number | null }>(sql`
      select (extract(epoch from now() - coalesce(${sessions.lastActivityAt}, ${sessions.readyAt}, ${sessions.createdAt})) * 1000)::float8 as quiet_ms
      from ${sessions} where ${sessions.sessionId} = ${sessionId}`);
    const value = rows[0]?.quiet_ms;
    return value === null || value === undefined ? undefined : Number(value);
  }

  // ── pools ─────────────────────────────────────────────────────────────────────────────────────────────────

  /** Creates or replaces a pool's desired state (a deleted pool comes back). */
  async upsertPool(pool: NewPool): Promise<PoolRow> {
    // Every column is written, so a re-applied pool loses what its new declaration leaves out.
    const values = {
      ...pool,
      backend: pool.backend ?? 'auto',
      idleTimeoutS: pool.idleTimeoutS ?? null,
      updatedAt: new Date(),
      deletedAt: null,
    };
    const [row] = await this.db
      .insert(sessionPools)
      .values(values)
      .onConflictDoUpdate({ target: sessionPools.name, set: values })
      .returning();
    return row!;
  }

  async getPool(name: string): Promise<PoolRow | undefined> {
    const [row] = await this.db.select().from(sessionPools).where(eq(sessionPools.name, name));
    return row;
  }

  /** Pools not deleted; one team's (and the shared ones) when `teams` is given. */
  async listPools(teams?: readonly string[]): Promise<PoolRow[]> {
    return this.db
      .select()
      .from(sessionPools)
      .where(and(isNull(sessionPools.deletedAt), teams ? inArray(sessionPools.team, [...teams]) : undefined))
      .orderBy(asc(sessionPools.name));
  }

  /** Drains a pool: size 0 and marked deleted; its workflow stops the warm servers and ends. */
  async deletePool(name: string): Promise<boolean> {
    const rows = await this.db
      .update(sessionPools)
      .set({ size: 0, deletedAt: new Date(), updatedAt: new Date() })
      .where(and(eq(sessionPools.name, name), isNull(sessionPools.deletedAt)))
      .returning({ name: sessionPools.name });
    return rows.length > 0;
  }

  // ── servers ───────────────────────────────────────────────────────────────────────────────────────────────

  /** Inserts the server's row unless it exists; returns the stored row either way. */
  async createServer(row: NewServer): Promise<ServerRow> {
    const inserted = await this.db.insert(connectServers).values(row).onConflictDoNothing().returning();
    if (inserted[0]) return inserted[0];
    const existing = await this.getServer(row.serverId);
    if (!existing) throw new Error(`server ${row.serverId} vanished during create`);
    return existing;
  }

  async getServer(serverId: string): Promise<ServerRow | undefined> {
    const [row] = await this.db.select().from(connectServers).where(eq(connectServers.serverId, serverId));
    return row;
  }

  /** Changes a server that has not stopped; returns the row as it is afterwards (a stopped row unchanged). */
  async patchServer(serverId: string, patch: ServerPatch): Promise<ServerRow | undefined> {
    const [row] = await this.db
      .update(connectServers)
      .set(patch)
      .where(and(eq(connectServers.serverId, serverId), ne(connectServers.state, 'STOPPED')))
      .returning();
    return row ?? (await this.getServer(serverId));
  }

  async markStopped(serverId: string, error?: string): Promise<void> {
    await this.db
      .update(connectServers)
      .set({ state: 'STOPPED', stoppedAt: new Date(), ...(error ? { error } : {}) })
      .where(and(eq(connectServers.serverId, serverId), ne(connectServers.state, 'STOPPED')));
  }

  /** Takes a WARM server out of its pool to stop it, atomically (a lease cannot race it); false when not WARM. */
  async claimWarm(serverId: string, why: string): Promise<boolean> {
    const rows = await this.db
      .update(connectServers)
      .set({ state: 'STOPPED', stoppedAt: new Date(), error: why })
      .where(and(eq(connectServers.serverId, serverId), eq(connectServers.state, 'WARM')))
      .returning({ serverId: connectServers.serverId });
    return rows.length > 0;
  }

  /**
   * Leases one warm server of the pool to the session, atomically; the session's server when it already has one.
   * Undefined when the pool has no warm server.
   */
  async lease(pool: string, sessionId: string): Promise<ServerRow | undefined> {
    const [mine] = await this.db
      .select()
      .from(connectServers)
      .where(and(eq(connectServers.sessionId, sessionId), ne(connectServers.state, 'STOPPED')));
    if (mine) return mine;
    const { rows } = await this.db.execute<{ server_id: string }>(sql`
      update ${connectServers} set state = 'LEASED', session_id = ${sessionId}, leased_at = now()
      where server_id = (
        select server_id from ${connectServers}
        where pool = ${pool} and state = 'WARM'
        order by warm_at asc nulls last
        limit 1 for update skip locked)
      returning server_id`);
    const id = rows[0]?.server_id;
    return id ? this.getServer(id) : undefined;
  }

  /** The pool's servers that are starting or warm (a leased server is its session's, no longer the pool's). */
  async poolServers(pool: string): Promise<ServerRow[]> {
    return this.db
      .select()
      .from(connectServers)
      .where(and(eq(connectServers.pool, pool), inArray(connectServers.state, ['STARTING', 'WARM'])))
      .orderBy(asc(connectServers.createdAt));
  }

  /**
   * How many servers each pool has STARTING, WARM and LEASED (the pool null: cold starts), for the pool gauge.
   * Only the listed pools and the null pool are read, by the (pool, state) index: never the history of stopped ones.
   */
  async serverCounts(pools: readonly string[]): Promise<{ pool: string | null; state: string; n: number }[]> {
    const live = ['STARTING', 'WARM', 'LEASED'] as const;
    const rows = await this.db
      .select({ pool: connectServers.pool, state: connectServers.state, n: sql<number>`count(*)::int` })
      .from(connectServers)
      .where(
        and(
          pools.length
            ? or(inArray(connectServers.pool, [...pools]), isNull(connectServers.pool))
            : isNull(connectServers.pool),
          inArray(connectServers.state, [...live]),
        ),
      )
      .groupBy(connectServers.pool, connectServers.state);
    return rows.map((r) => ({ pool: r.pool, state: r.state, n: Number(r.n) }));
  }

  /** Servers not stopped, of every pool and session (the orphan sweep spares these). */
  async liveServers(): Promise<ServerRow[]> {
    return this.db.select().from(connectServers).where(ne(connectServers.state, 'STOPPED'));
  }
}

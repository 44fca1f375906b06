/**
 * The warm Spark Connect pools' metrics, on the worker's registry (its /metrics and OTLP export):
 *
 * | metric                                     | type      | labels        | what                                          |
 * |--------------------------------------------|-----------|---------------|-----------------------------------------------|
 * | spark_runner_session_acquisition_seconds   | histogram | pool, served  | a session's request (its row) to READY        |
 * | spark_runner_session_pool_servers          | gauge     | pool, state   | servers by pool and warm / leased / starting  |
 *
 * `served` is `warm` when the session leased a server its pool had warmed, `cold` when one was started for it alone;
 * `pool` is the session's pool (`none`: a cold start with no pool). Each session is timed once, by the call that
 * wrote its first READY event (`SessionStore.recordEvent` reports an event as new once, so a retried activity
 * does not count twice; a later READY after IDLE carries no `readyAt` and is not a new acquisition).
 *
 * The gauge is read from Postgres at each scrape, for the pools not deleted and the cold starts (pool `none`), by
 * the (pool, state) index; every worker answers the same numbers, so aggregate it with max, not sum.
 */
import client from 'prom-client';
import { SessionStore, type SessionEventInput } from '../store/sessions.js';

const SERVED_STATES = { STARTING: 'starting', WARM: 'warm', LEASED: 'leased' } as const;

export interface SessionMetrics {
  acquisition: client.Histogram<'pool' | 'served'>;
}

/** The session metrics on `registry`; the pool gauge reads `store` at each scrape. */
export function sessionMetrics(registry: client.Registry, store: SessionStore): SessionMetrics {
  new client.Gauge({
    name: 'spark_runner_session_pool_servers',
    help: 'Spark Connect servers by pool (none: cold starts) and state: warm, leased, starting',
    labelNames: ['pool', 'state'] as const,
    registers: [registry],
    async collect() {
      const pools = (await store.listPools()).map((p) => p.name);
      this.reset();
      for (const pool of pools) for (const state of Object.values(SERVED_STATES)) this.set({ pool, state }, 0);
      for (const row of await store.serverCounts(pools)) {
        const state = SERVED_STATES[row.state as keyof typeof SERVED_STATES];
        if (state) this.set({ pool: row.pool ?? 'none', state }, row.n);
      }
    },
  });
  return {
    acquisition: new client.Histogram({
      name: 'spark_runner_session_acquisition_seconds',
      help: 'From a session being requested to READY, by pool and how it was served (warm lease or cold start)',
      labelNames: ['pool', 'served'] as const,
      buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600],
      registers: [registry],
    }),
  };
}

/** The sessions store as the worker uses it, timing each session's acquisition once (see the header). */
export class InstrumentedSessionStore extends SessionStore {
  private metrics?: SessionMetrics;

  /** Starts timing into `metrics`. */
  instrument(metrics: SessionMetrics): this {
    this.metrics = metrics;
    return this;
  }

  override async recordEvent(input: SessionEventInput): Promise<boolean> {
    const created = await super.recordEvent(input);
    const readyAt = input.patch?.readyAt;
    if (created && this.metrics && input.type === 'READY' && readyAt) {
      await this.observe(this.metrics, input.sessionId, readyAt).catch(() => undefined);
    }
    return created;
  }

  private async observe(m: SessionMetrics, sessionId: string, readyAt: Date): Promise<void> {
    const session = await this.getSession(sessionId);
    if (!session?.serverId) return;
    const server = await this.getServer(session.serverId);
    // A server warmed for a pool has its pool; one started for this session alone has none.
    const served = server?.pool ? 'warm' : 'cold';
    const seconds = Math.max(0, (readyAt.getTime() - session.createdAt.getTime()) / 1000);
    m.acquisition.observe({ pool: session.pool ?? 'none', served }, seconds);
  }
}

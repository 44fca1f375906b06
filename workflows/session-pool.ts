/**
 * The warm pool workflow: keeps N Spark Connect servers warm for one pool (workflow id `pool-<pool>`, started by
 * service/sessions.ts with signal-with-start whenever the pool's `session_pools` row changes, and woken by every
 * lease). The row is the desired state: team, Spark version, size, driver memory.
 *
 *            ┌──────────── a refill signal (a lease, an apply), a start ending, or checkIntervalMs ─────────────┐
 *            ▼                                                                                                   │
 *   ──► reconcile: stop warm servers that died, extras beyond the size, and abandoned starts; sweep processes  │
 *        no live row names; then start (size − warm − starting) new servers, a few at a time ──► wait ─────────┘
 *        (after failed starts: an exponential backoff before the next)
 *   the pool deleted (size 0, deleted_at) and nothing warm or starting ──► the workflow ends
 *
 * Never a leaked server, even when the worker is SIGKILLed mid-start: each start writes its server's row before
 * the server exists, and is retried on another worker after the missed heartbeats; the retry stops whatever the
 * first attempt left (local: found in /proc by its server id) before starting again. The sweep of every round
 * catches anything else a row no longer names.
 *
 * A lease (the session's activity, one atomic UPDATE) takes a WARM server out of the pool; the pool only ever sees
 * it gone and starts a replacement. Continue-as-new happens between rounds with no start in flight, so no start
 * is ever orphaned by it. Layout (STYLE.md §16): one function per step, the mutable state in one `Pool` object.
 */
import {
  condition,
  continueAsNew,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  upsertMemo,
  uuid4,
  workflowInfo,
} from '@temporalio/workflow';
import type { PoolRound, SessionActivities } from '../activities/sessions.js';
import { assertNever } from '../schema/vocabulary.js';
import {
  poolBackoffMs,
  poolStateQuery,
  refillSignal,
  type PoolCarried,
  type PoolInput,
  type PoolSettings,
  type PoolSnapshot,
} from './session-definitions.js';

const retry = { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds' } as const;

const local = proxyLocalActivities<Pick<SessionActivities, 'beginPool'>>({
  startToCloseTimeout: '30 seconds',
  retry,
});

const control = proxyActivities<Pick<SessionActivities, 'reconcilePool' | 'stopServer'>>({
  startToCloseTimeout: '2 minutes',
  heartbeatTimeout: '30 seconds',
  retry,
});

function starter(settings: PoolSettings) {
  return proxyActivities<Pick<SessionActivities, 'startServer'>>({
    startToCloseTimeout: settings.startTimeoutMs,
    // A killed worker is noticed after this; the retry on another worker stops what it left and starts again.
    heartbeatTimeout: '10 seconds',
    retry: { ...retry, maximumAttempts: 3 },
  }).startServer;
}

type Step = { kind: 'reconcile' } | { kind: 'wait'; delayMs: number } | { kind: 'done' };

/** The workflow's mutable state, in one place. */
interface Pool {
  readonly input: PoolInput;
  settings: PoolSettings;
  s: PoolCarried;
  /** Starts in flight, by server id. */
  starting: Set<string>;
  woken: boolean;
  lastFailureAt?: number;
  rounds: number;
  last?: PoolRound;
}

export async function poolWorkflow(input: PoolInput): Promise<void> {
  const p: Pool = {
    input,
    settings: undefined as unknown as PoolSettings, // set by beginPool before any step runs
    s: input.carried ?? { consecutiveFailures: 0, continuedAsNew: 0 },
    starting: new Set(),
    woken: false,
    rounds: 0,
  };
  setHandler(refillSignal, () => void (p.woken = true));
  setHandler(poolStateQuery, (): PoolSnapshot => snapshot(p));
  p.settings = await local.beginPool(input.pool);

  let step: Step = { kind: 'reconcile' };
  for (;;) {
    switch (step.kind) {
      case 'reconcile':
        step = await reconcile(p);
        break;
      case 'wait':
        step = await wait(p, step.delayMs);
        break;
      case 'done':
        return;
      default:
        return assertNever(step, 'step');
    }
  }
}

// ── Steps ───────────────────────────────────────────────────────────────────────────────────────────────────

/** One round against the pool's row; starts what is missing, unless failed starts ask for a backoff first. */
async function reconcile(p: Pool): Promise<Step> {
  const { settings, s } = p;
  if (
    p.starting.size === 0 &&
    (p.rounds >= settings.continueAsNewAfterRounds || workflowInfo().continueAsNewSuggested)
  ) {
    await continueAsNew<typeof poolWorkflow>({ ...p.input, carried: { ...s, continuedAsNew: s.continuedAsNew + 1 } });
  }
  p.rounds += 1;
  p.woken = false;
  const round = await control.reconcilePool({ pool: p.input.pool, inFlight: [...p.starting] });
  p.last = round;
  upsertMemo({
    summary: `pool ${p.input.pool}: ${round.warm}/${round.size} warm, ${p.starting.size} starting${round.draining ? ' (draining)' : ''}`,
  });
  if (round.draining && round.warm === 0 && p.starting.size === 0) return { kind: 'done' };
  if (s.consecutiveFailures > 0 && p.lastFailureAt !== undefined) {
    const backoffLeft = p.lastFailureAt + poolBackoffMs(s.consecutiveFailures) - Date.now();
    if (backoffLeft > 0) return { kind: 'wait', delayMs: Math.min(backoffLeft, settings.checkIntervalMs) };
  }
  const missing = round.size - round.warm - p.starting.size;
  const room = settings.maxConcurrentStarts - p.starting.size;
  for (let i = 0; i < Math.min(missing, room) && round.server; i++) launch(p, round.server);
  return { kind: 'wait', delayMs: settings.checkIntervalMs };
}

/** Until something changes: a refill signal, a start ending, or the check interval. */
async function wait(p: Pool, delayMs: number): Promise<Step> {
  const starting = p.starting.size;
  await condition(() => p.woken || p.starting.size !== starting, delayMs);
  return { kind: 'reconcile' };
}

// ── Helpers ─────────────────────────────────────────────────────────────────────────────────────────────────

/** Starts one server in the background; a failed start is stopped (whatever it left) and counted. */
function launch(p: Pool, server: NonNullable<PoolRound['server']>): void {
  const serverId = uuid4();
  p.starting.add(serverId);
  void starter(p.settings)({ ...server, serverId, pool: p.input.pool })
    .then(
      () => {
        p.s.consecutiveFailures = 0;
      },
      async (err: unknown) => {
        p.s.consecutiveFailures += 1;
        p.lastFailureAt = Date.now();
        const message = (err as { cause?: { message?: string } }).cause?.message ?? String(err);
        await control.stopServer({ serverId, reason: `start failed: ${message}` });
      },
    )
    .finally(() => p.starting.delete(serverId));
}

function snapshot(p: Pool): PoolSnapshot {
  return {
    pool: p.input.pool,
    size: p.last?.size ?? 0,
    warm: p.last?.warm ?? 0,
    starting: p.starting.size,
    draining: p.last?.draining ?? false,
    consecutiveFailures: p.s.consecutiveFailures,
    continuedAsNew: p.s.continuedAsNew,
  };
}

/**
 * The session workflow: one interactive Spark Connect session, from request to end (workflow id
 * `session-<sessionId>`, started by service/sessions.ts). The Spark Connect server has no idle shutdown of its own,
 * so every limit lives here.
 *
 *   REQUESTED ─ acquire ─┬─ a warm server of its pool leased ──► LEASED ──┐
 *                        └─ the pool has none (or no pool) ─► STARTING ───┤  start: a cold server for it alone
 *                                                                         ▼
 *                     serve: every checkIntervalMs ──► READY ◄──► IDLE ───┬─ release (the Update) ─────────┐
 *                     (probe: quiet time, server alive,                   ├─ quiet ≥ idle timeout ─────────┤
 *                      a Spark job running)                               ├─ now ≥ expiresAt (lifetime) ───┤
 *                                                                         └─ its server died ──────────────┤
 *   a start that fails, or a release or the lifetime while it starts ─────────────────────────────────────┤
 *                                                                                                          ▼
 *                                                         end: ENDED recorded (the token stops working), the
 *                                                         proxy's route cache drained, then the server stopped;
 *                                                         the release Update answers
 *
 * Idle: no RPC open and none started for the idle timeout. The proxy writes `last_activity_at` while any RPC of the
 * session is open (a running ExecutePlan or ReattachExecute stream included) at most once per flush interval; the
 * probe reads how long ago that was, on this workflow's timer. So a long query is never cut, and there is never
 * one signal per RPC. Spark 4.0 does not stop a job when its ExecutePlan RPC is cancelled (only an interrupt does),
 * so a job can run with no RPC open: the probe also asks the driver's REST API whether a job runs, and a running
 * job counts as activity. Such a job keeps the session until it finishes, or until the maximum lifetime.
 *
 * A leased server serves this session only and is stopped at the end: nothing of one user's session (temporary
 * views, caches, configuration) reaches another's.
 *
 * Continue-as-new only while serving, between checks (the state is carried); the release Update is never left
 * waiting across it. Layout (STYLE.md §16): one function per step, the mutable state in one `Session` object.
 */
import {
  ActivityCancellationType,
  CancellationScope,
  allHandlersFinished,
  condition,
  continueAsNew,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  sleep,
  upsertMemo,
  uuid4,
  workflowInfo,
} from '@temporalio/workflow';
import type { SessionActivities, SessionRecordInput } from '../activities/sessions.js';
import {
  SESSION_END_DRAIN_MS,
  type SessionEndReason,
  type SessionEventType,
  type SessionState,
} from '../schema/session-states.js';
import { assertNever } from '../schema/vocabulary.js';
import {
  releaseUpdate,
  sessionStateQuery,
  type ReleaseRequest,
  type SessionInput,
  type SessionResult,
  type SessionSettings,
  type SessionSnapshot,
} from './session-definitions.js';

const retry = { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds' } as const;

const store = proxyLocalActivities<Pick<SessionActivities, 'beginSession' | 'recordSession'>>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '500 milliseconds', backoffCoefficient: 2, maximumInterval: '10 seconds' },
});

const control = proxyActivities<Pick<SessionActivities, 'leaseServer' | 'probeSession'>>({
  startToCloseTimeout: '30 seconds',
  retry: { ...retry, maximumAttempts: 5 },
});

/** Stopping the server must happen: retried for as long as it takes. */
const stopping = proxyActivities<Pick<SessionActivities, 'stopServer'>>({
  startToCloseTimeout: '2 minutes',
  retry,
});

/** A cold start: bounded by the start timeout; a killed worker is noticed by the missing heartbeats. */
function starter(settings: SessionSettings) {
  return proxyActivities<Pick<SessionActivities, 'startServer'>>({
    startToCloseTimeout: settings.startTimeoutMs,
    heartbeatTimeout: '10 seconds',
    retry: { ...retry, maximumAttempts: 2 },
    // A cancelled start is awaited until the activity has stopped what it began.
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  }).startServer;
}

type Step =
  | { kind: 'acquire' }
  | { kind: 'start' }
  | { kind: 'serve' }
  | { kind: 'end'; reason: SessionEndReason; message?: string };

/** The workflow's mutable state, in one place. */
interface Session {
  readonly input: SessionInput;
  readonly expiresAt: number;
  settings: SessionSettings;
  state: SessionState;
  serverId?: string;
  readyAt?: number;
  lastBusyAt?: number;
  transitions: number;
  checks: number;
  continuedAsNew: number;
  release?: ReleaseRequest;
  endedReason?: SessionEndReason;
  /** Set once the server is stopped: the release Update answers then. */
  finished: boolean;
}

export async function sessionWorkflow(input: SessionInput): Promise<SessionResult> {
  const carried = input.carried;
  const w: Session = {
    input,
    expiresAt: Date.parse(input.expiresAt),
    settings: undefined as unknown as SessionSettings, // set by beginSession before any step runs
    state: carried?.state ?? 'REQUESTED',
    ...(carried ? { serverId: carried.serverId, readyAt: carried.readyAt } : {}),
    ...(carried?.lastBusyAt !== undefined ? { lastBusyAt: carried.lastBusyAt } : {}),
    transitions: carried?.transitions ?? 0,
    checks: 0,
    continuedAsNew: carried?.continuedAsNew ?? 0,
    finished: false,
  };
  installHandlers(w);
  w.settings = await store.beginSession(input);

  let step: Step = carried ? { kind: 'serve' } : { kind: 'acquire' };
  for (;;) {
    switch (step.kind) {
      case 'acquire':
        step = await acquire(w);
        break;
      case 'start':
        step = await coldStart(w);
        break;
      case 'serve':
        step = await serve(w);
        break;
      case 'end':
        return end(w, step);
      default:
        return assertNever(step, 'step');
    }
  }
}

function installHandlers(w: Session): void {
  setHandler(sessionStateQuery, (): SessionSnapshot => snapshot(w));
  setHandler(releaseUpdate, async (request) => {
    w.release ??= request;
    await condition(() => w.finished);
    return snapshot(w);
  });
}

// ── Steps ───────────────────────────────────────────────────────────────────────────────────────────────────

/** Leases a warm server of the pool; a cold start when it has none. */
async function acquire(w: Session): Promise<Step> {
  if (w.release) return { kind: 'end', reason: 'RELEASED' };
  const pool = w.input.pool;
  if (pool) {
    const leased = await control.leaseServer({ sessionId: w.input.sessionId, pool });
    if (leased) {
      w.serverId = leased.serverId;
      await transition(w, 'LEASED', { pool, serverId: leased.serverId }, { serverId: leased.serverId });
      return { kind: 'serve' };
    }
  }
  return { kind: 'start' };
}

/** Starts a server for this session alone; a release or the lifetime cancels the start (which stops it). */
async function coldStart(w: Session): Promise<Step> {
  const serverId = uuid4();
  w.serverId = serverId;
  await transition(w, 'STARTING', { serverId, pool: w.input.pool ?? null }, { serverId });
  const { input } = w;
  const scope = new CancellationScope();
  let outcome: { ok: true } | { ok: false; message: string } | undefined;
  const started = scope
    .run(() =>
      starter(w.settings)({
        serverId,
        sessionId: input.sessionId,
        team: input.team,
        sparkVersion: input.sparkVersion,
        driverMemoryMb: input.driverMemoryMb,
        backend: input.backend,
      }),
    )
    .then(
      (r) =>
        (outcome =
          r.state === 'STOPPED' ? { ok: false, message: 'the server was stopped while starting' } : { ok: true }),
      (err: unknown) => (outcome = { ok: false, message: failureMessage(err) }),
    );
  const settled = await condition(
    () => outcome !== undefined || w.release !== undefined,
    Math.max(0, w.expiresAt - Date.now()),
  );
  if (outcome === undefined) {
    scope.cancel();
    await started;
    return { kind: 'end', reason: settled ? 'RELEASED' : 'MAX_LIFETIME' };
  }
  if (!outcome.ok) return { kind: 'end', reason: 'START_FAILED', message: outcome.message };
  return { kind: 'serve' };
}

/** READY, then a check every checkIntervalMs until a limit or a release ends the session. */
async function serve(w: Session): Promise<Step> {
  const { settings, input } = w;
  if (w.state !== 'READY' && w.state !== 'IDLE') {
    w.readyAt = Date.now();
    await transition(w, 'READY', {}, { readyAt: new Date(w.readyAt).toISOString() });
  }
  for (;;) {
    if (w.release) return { kind: 'end', reason: 'RELEASED' };
    const untilExpiry = w.expiresAt - Date.now();
    if (untilExpiry <= 0) return { kind: 'end', reason: 'MAX_LIFETIME' };
    if (w.checks >= settings.continueAsNewAfterChecks || workflowInfo().continueAsNewSuggested) {
      await condition(() => allHandlersFinished() || w.release !== undefined);
      if (w.release) continue;
      await continueAsNew<typeof sessionWorkflow>({
        ...input,
        carried: {
          state: w.state as 'READY' | 'IDLE',
          serverId: w.serverId!,
          readyAt: w.readyAt!,
          ...(w.lastBusyAt !== undefined ? { lastBusyAt: w.lastBusyAt } : {}),
          transitions: w.transitions,
          continuedAsNew: w.continuedAsNew + 1,
        },
      });
    }
    if (await condition(() => w.release !== undefined, Math.min(settings.checkIntervalMs, untilExpiry))) continue;
    if (w.expiresAt <= Date.now()) continue;
    w.checks += 1;
    const probe = await control.probeSession({
      sessionId: input.sessionId,
      serverId: w.serverId!,
      askBusyAfterQuietMs: settings.activityFreshMs,
    });
    if (!probe.alive) {
      return { kind: 'end', reason: 'SERVER_LOST', message: 'the Spark Connect server stopped on its own' };
    }
    const now = Date.now();
    if (probe.busy) w.lastBusyAt = now;
    const quiet = Math.min(
      probe.quietMs,
      now - (w.readyAt ?? now),
      w.lastBusyAt !== undefined ? now - w.lastBusyAt : Infinity,
    );
    if (quiet >= input.idleTimeoutMs) {
      return {
        kind: 'end',
        reason: 'IDLE_TIMEOUT',
        message: `no RPC and no Spark job for ${Math.round(quiet / 1000)} s (idle timeout ${Math.round(input.idleTimeoutMs / 1000)} s)`,
      };
    }
    const next = quiet > settings.activityFreshMs ? 'IDLE' : 'READY';
    if (next !== w.state) await transition(w, next, { quietMs: Math.round(quiet) });
  }
}

/**
 * ENDED first, so the token stops working (within the proxy's route cache); then, once that cache has drained, the
 * server is stopped, and a release answers.
 */
async function end(w: Session, step: Extract<Step, { kind: 'end' }>): Promise<SessionResult> {
  const { input } = w;
  w.endedReason = step.reason;
  if (step.reason === 'RELEASED') {
    await transition(w, 'RELEASE_REQUESTED', {
      requestedBy: w.release?.requestedBy ?? null,
      reason: w.release?.reason ?? null,
    });
  }
  const message = step.message ?? (step.reason === 'RELEASED' ? w.release?.reason : undefined);
  await transition(
    w,
    'ENDED',
    { reason: step.reason, message: message ?? null, serverId: w.serverId ?? null },
    {
      endedReason: step.reason,
      endedAt: new Date().toISOString(),
      ...(message ? { endedMessage: message } : {}),
    },
  );
  if (w.serverId) {
    // The proxy's route cache drains first: no RPC reaches a server that is shutting down (SESSION_END_DRAIN_MS).
    if (patched('session-end-drain')) await sleep(SESSION_END_DRAIN_MS);
    await stopping.stopServer({ serverId: w.serverId, reason: `session ended: ${step.reason}` });
  }
  w.finished = true;
  await condition(allHandlersFinished);
  return { sessionId: input.sessionId, endedReason: step.reason, ...(message ? { message } : {}) };
}

// ── Helpers ─────────────────────────────────────────────────────────────────────────────────────────────────

/** Records a transition: the event (numbered), the new state when it is one, and the snapshot fields given. */
async function transition(
  w: Session,
  type: SessionEventType,
  payload: Record<string, unknown>,
  fields: Omit<SessionRecordInput, 'sessionId' | 'type' | 'n' | 'payload' | 'state'> = {},
): Promise<void> {
  w.transitions += 1;
  const state: SessionState | undefined = type === 'RELEASE_REQUESTED' ? undefined : type;
  await store.recordSession({
    sessionId: w.input.sessionId,
    type,
    n: w.transitions,
    payload,
    ...(state ? { state } : {}),
    ...fields,
  });
  if (state) {
    w.state = state;
    upsertMemo({ summary: `Spark Connect session of ${w.input.team}: ${state}` });
  }
}

function snapshot(w: Session): SessionSnapshot {
  return {
    sessionId: w.input.sessionId,
    state: w.state,
    ...(w.serverId ? { serverId: w.serverId } : {}),
    ...(w.endedReason ? { endedReason: w.endedReason } : {}),
  };
}

function failureMessage(err: unknown): string {
  const e = err as { message?: string; cause?: { message?: string; cause?: { message?: string } } };
  return e.cause?.cause?.message ?? e.cause?.message ?? e.message ?? String(err);
}

/**
 * Messages and types of the session workflow (session.ts) and the warm pool workflow (session-pool.ts), shared
 * with the services, the activities and tests. Pure: safe inside the workflow sandbox and in Node, so no Node
 * process imports a workflow module.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { ConnectBackendName, SessionEndReason, SessionState } from '../schema/session-states.js';

export const SESSION_WORKFLOW = 'sessionWorkflow';
export const POOL_WORKFLOW = 'poolWorkflow';

/** What the worker's configuration decides for every session (from begin, like the executions' settings). */
export interface SessionSettings {
  /** How often the workflow checks activity, the server's life and the deadlines. */
  checkIntervalMs: number;
  /**
   * Quiet for longer than this means no RPC is open: the proxy refreshes an open RPC's session at least this
   * often (two of its flush intervals). Below it the session is READY, above it IDLE.
   */
  activityFreshMs: number;
  /** A server start that has not answered by then has failed. */
  startTimeoutMs: number;
  /** Continue-as-new after this many checks (the whole state is carried). */
  continueAsNewAfterChecks: number;
}

export interface ReleaseRequest {
  requestedBy?: string;
  reason?: string;
}

/** Everything the session workflow must remember; carried across continue-as-new (only while it serves). */
export interface SessionCarried {
  state: Extract<SessionState, 'READY' | 'IDLE'>;
  serverId: string;
  /** Epoch ms it became READY, and of the last time its server said a Spark job was running. */
  readyAt: number;
  lastBusyAt?: number;
  /** Transitions recorded so far: numbers each event, so READY and IDLE may alternate with distinct ids. */
  transitions: number;
  continuedAsNew: number;
}

export interface SessionInput {
  sessionId: string;
  team: string;
  sparkVersion: string;
  /** The pool to lease from; absent: a cold start. */
  pool?: string;
  idleTimeoutMs: number;
  /** ISO time of the maximum lifetime's end. */
  expiresAt: string;
  /** For a cold start. */
  driverMemoryMb: number;
  backend: ConnectBackendName | 'auto';
  /** Set only by continue-as-new. */
  carried?: SessionCarried;
}

export interface SessionSnapshot {
  sessionId: string;
  state: SessionState;
  serverId?: string;
  endedReason?: SessionEndReason;
}

export interface SessionResult {
  sessionId: string;
  endedReason: SessionEndReason;
  message?: string;
}

/** Ends the session: resolves once it is ENDED and its server stopped. Idempotent (an ended session answers). */
export const releaseUpdate = defineUpdate<SessionSnapshot, [ReleaseRequest]>('release');
/** The session's live state. */
export const sessionStateQuery = defineQuery<SessionSnapshot>('sessionState');

/** What the worker's configuration decides for every pool. */
export interface PoolSettings {
  /** How often the pool checks its servers (alive, size) when nothing wakes it sooner. */
  checkIntervalMs: number;
  startTimeoutMs: number;
  /** At most this many servers of one pool start at once (each is a JVM, or a pod). */
  maxConcurrentStarts: number;
  /** Continue-as-new after this many rounds, between starts. */
  continueAsNewAfterRounds: number;
}

export interface PoolCarried {
  consecutiveFailures: number;
  continuedAsNew: number;
}

export interface PoolInput {
  /** `default` or `<team>.<name>`; its desired state is its `session_pools` row. */
  pool: string;
  carried?: PoolCarried;
}

export interface PoolSnapshot {
  pool: string;
  size: number;
  warm: number;
  starting: number;
  draining: boolean;
  consecutiveFailures: number;
  continuedAsNew: number;
}

/** Wakes the pool at once: a server was leased (refill), or its desired state changed (apply, delete). */
export const refillSignal = defineSignal('refill');
export const poolStateQuery = defineQuery<PoolSnapshot>('poolState');

/** The backoff before a pool tries again after `failures` failed starts in a row. */
export function poolBackoffMs(failures: number): number {
  return Math.min(5 * 60_000, 2000 * 2 ** Math.max(0, failures - 1));
}

/**
 * The execution state machine's vocabulary, declared once. The Drizzle enums, the zod enums and the TypeScript
 * types are all derived from these tuples (STYLE.md §2), so adding a state is a one-line change.
 */
export const EXECUTION_STATES = ['PENDING', 'SUBMITTED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED'] as const;
export type ExecutionState = (typeof EXECUTION_STATES)[number];

export const TERMINAL_STATES = ['SUCCEEDED', 'FAILED', 'CANCELLED'] as const satisfies readonly ExecutionState[];
export type TerminalState = (typeof TERMINAL_STATES)[number];

/** The states of an execution still in flight (every state but the terminal ones). */
export const ACTIVE_STATES = EXECUTION_STATES.filter((s) => !(TERMINAL_STATES as readonly string[]).includes(s));

export function isTerminal(state: ExecutionState): state is TerminalState {
  return (TERMINAL_STATES as readonly string[]).includes(state);
}

/** Event types written to the append-only `execution_events` table. */
export const EVENT_TYPES = ['SUBMIT', 'RUNNING', 'RETRY', 'CANCEL_REQUESTED', 'TERMINAL', 'METRICS_SUMMARY'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** Compute backends the Spark Gateway can route to. `sim` is for tests and benchmarks and is never a default. */
export const BACKENDS = ['kubernetes', 'emr', 'local', 'sim'] as const;
export type BackendName = (typeof BACKENDS)[number];

/** How an execution was started. */
export const TRIGGERS = ['api', 'cli', 'manifest', 'schedule', 'continuous'] as const;
export type Trigger = (typeof TRIGGERS)[number];

/**
 * Failure classes from the auto-retry (AR) classifier. USER_ERROR is never retried; INFRA covers a run that
 * vanished or a backend that never reported; TIMEOUT is the execution deadline.
 */
export const FAILURE_CLASSES = [
  'USER_ERROR',
  'OOM',
  'EXECUTOR_LOST',
  'NODE_PREEMPTED',
  'SHUFFLE_FETCH',
  'SCHEDULING',
  'INFRA',
  'TIMEOUT',
  'UNKNOWN',
] as const;
export type FailureClass = (typeof FAILURE_CLASSES)[number];

/** Why an execution is still PENDING, shown as `pending_reason` by the API. */
export const PENDING_CODES = ['TEAM_QUEUE', 'NO_BACKEND', 'SUBMITTING', 'RETRY_BACKOFF'] as const;
export type PendingCode = (typeof PENDING_CODES)[number];
export interface PendingReason {
  code: PendingCode;
  message: string;
  /** ISO-8601 time the execution started waiting for this reason. */
  since: string;
}

/**
 * The workflow bundle's entry: every workflow the worker registers. Workflow code runs in Temporal's sandbox:
 * it imports only @temporalio/workflow, types, and pure modules (runner/, schema/, the *definitions.ts here).
 *
 * How to add a step to a workflow: add a variant to its `Step` union, a named function that runs the step and
 * returns the next one, and a `case` in the loop (the `assertNever` default fails to compile until you do). Every
 * wait in a step is raced against cancel and the deadline (`interruptible` in execution.ts). Its messages
 * (signals, queries, Updates) go in the workflow's definitions module, which Node processes import instead of the
 * workflow. Changing what an existing step does changes replay: in-flight executions must drain first, or the
 * change must be guarded with `patched()`.
 */
export { executionWorkflow } from './execution.js';
export { continuousJobWorkflow } from './continuous-job.js';
export { reapAttemptWorkflow } from './reap-attempt.js';
export { retentionSweepWorkflow } from './retention-sweep.js';
export { sessionWorkflow } from './session.js';
export { poolWorkflow } from './session-pool.js';

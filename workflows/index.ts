// The workflow bundle's entry: every workflow the worker registers.
export { executionWorkflow } from './execution.js';
export { continuousJobWorkflow } from './continuous-job.js';
export { reapAttemptWorkflow } from './reap-attempt.js';

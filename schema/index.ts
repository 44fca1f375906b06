export * from './enums.js';
export * from './jobs.js';
export * from './executions.js';
export * from './execution-events.js';
export * from './placements.js';
export * from './cluster-health.js';

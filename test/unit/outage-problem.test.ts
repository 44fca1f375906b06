/**
 * An outage of a dependency is a 503 with Retry-After, not a 500 (found by the fault drill, bench/drill.ts): the
 * errors the pg driver and the Temporal client raise while Postgres or the Temporal frontend restarts, as drizzle and
 * the SDK wrap them. Errors that are not outages stay unmapped (a 500: a bug).
 */
import { expect, it } from 'vitest';
import { problemOf } from '../../api/problem.js';

const wrapped = (cause: Error) => new Error('Failed query: select 1', { cause });
const withCode = (message: string, code: string | number) => Object.assign(new Error(message), { code });

it.each([
  ['Postgres refusing connections', wrapped(withCode('connect ECONNREFUSED 127.0.0.1:5432', 'ECONNREFUSED'))],
  ['Postgres killed mid-query', wrapped(withCode('terminating connection due to unexpected postmaster exit', '57P01'))],
  ['Postgres still starting', wrapped(withCode('the database system is starting up', '57P03'))],
  ['the connection dropped', wrapped(new Error('Connection terminated unexpectedly'))],
  ['the Temporal frontend down', new Error('Failed to start workflow', { cause: withCode('14 UNAVAILABLE', 14) })],
])('answers %s with 503 and Retry-After', (_what, err) => {
  const problem = problemOf(err);
  expect(problem?.status).toBe(503);
  expect(problem?.headers).toEqual({ 'Retry-After': '1' });
});

it('leaves an error that is not an outage unmapped', () => {
  expect(problemOf(wrapped(withCode('syntax error at or near "selec"', '42601')))).toBeUndefined();
});

/**
 * Smoke tests of the real stack the global setup started: Postgres answers real queries against the migrated
 * schema, and a workflow makes a round trip through the real Temporal server and a worker.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { createSimBackend } from '../../gateway/backends/sim/index.js';
import { JobSpec } from '../../schema/job-spec.js';
import { openDatabase } from '../../store/db.js';
import { submitExecution } from '../../service/submit.js';
import { executionHandle } from '../../service/handles.js';
import { openTestStack, type TestStack } from '../helpers/stack.js';

let stack: TestStack;
beforeAll(async () => {
  stack = await openTestStack();
});
afterAll(async () => stack?.close());

describe('the real stack', () => {
  it('answers SQL against the migrated schema in Postgres', async () => {
    const database = openDatabase(stack.config.DATABASE_URL!);
    try {
      const result = await database.db.execute(
        sql`select table_name from information_schema.tables where table_schema = 'public' order by table_name`,
      );
      expect(result.rows.map((r) => r.table_name)).toEqual(
        expect.arrayContaining(['execution_events', 'executions', 'jobs']),
      );
    } finally {
      await database.close();
    }
  });

  it('runs a workflow through the real Temporal server and records it in Postgres', async () => {
    await stack.startWorker({ sim: createSimBackend() });
    const spec = JobSpec.parse({
      name: 'smoke',
      engineVersion: '4.0',
      backend: 'sim',
      application: { type: 'python', file: 'noop.py' },
    });
    const { execution } = await submitExecution(stack, { team: 'smoke', trigger: 'api', spec });
    const result = await executionHandle(stack.client, execution.executionId).result();
    expect(result.state).toBe('SUCCEEDED');
    const row = await stack.store.getExecution(execution.executionId);
    expect(row?.state).toBe('SUCCEEDED');
  });
});

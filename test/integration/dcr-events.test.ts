/**
 * A streaming job's loop records its own transitions and its progress samples as job events, on the real stack:
 * real Temporal, Postgres and local Spark, through the real API. The job is a Structured Streaming `rate` source
 * (20 rows/s) to a JSON file sink (examples/streaming/rate_to_files.py); the loop samples it every 2 s
 * (STREAMING_SAMPLE_INTERVAL_S) from its driver's metrics servlet, so the samples' input rate is the rate source's.
 * A resize by REST then shows RESIZED (from, to, reason) and the second run's RUN_STARTED, and a stop STOPPED.
 *
 * DCR's lag trigger, provoked by a job that really lags (examples/streaming/lagging_rate_to_files.py): each of its
 * batches does real CPU work (a hash chain) that doubles batch after batch, so Spark reports processed < input
 * (rows over the batch's duration against rows over the time since the previous batch started). Three lagging
 * samples in a row make the loop resize the job (rule 3 of runner/dcr.ts) by a controlled restart from the
 * checkpoint; its next wave of lag falls in the cool-down (DCR_COOLDOWN_S, 600 s here) and resizes nothing.
 * On the local backend, "executors" is `spark.executor.instances` on the spark-submit line, which the driver
 * receives (its environment shows it) but which adds no task slots: the master stays `local[N]`. So the resized
 * run is checked to have been given the new count, not to run faster.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { dataPaths } from '../../config/index.js';
import { stopLocalRuns } from '../../gateway/backends/local/index.js';
import { startTestApi, type TestApi } from '../helpers/api.js';
import { eventually, openTestStack, type TestStack } from '../helpers/stack.js';

let stack: TestStack;
let api: TestApi;
let work: string;

beforeAll(async () => {
  stack = await openTestStack({ STREAMING_SAMPLE_INTERVAL_S: '2', DCR_COOLDOWN_S: '600' });
  await stack.startWorker();
  api = await startTestApi(stack);
  work = fs.mkdtempSync(path.join(process.env.SPARK_RUNNER_TEST_TMP!, 'dcr-events-'));
}, 120_000);
afterAll(async () => {
  await api?.close();
  await stack?.close();
  if (stack) await stopLocalRuns(dataPaths(stack.config).runsDir, 1_000);
});

const ID = 'continuous-data-infra.dcr-events';
/** A streaming job of data-infra on local Spark: `program` under examples/streaming, its sink and checkpoint in `work`. */
const streamingManifest = (name: string, program: string, prefix: string) => `apiVersion: dcp.pedregal.doordash.com/v1
kind: SparkJob
metadata:
  name: ${name}
  team: data-infra
spec:
  engineVersion: '3.5'
  jobType: streaming
  backend: local
  application: { type: python, file: ${path.resolve('examples/streaming', program)} }
  args: ['${path.join(work, `${prefix}out`)}', '${path.join(work, `${prefix}checkpoint`)}', '20']
  resources:
    driver: { memory: 1g }
`;

interface JobEvent {
  seq: number;
  event_id: string;
  event_type: string;
  execution_id: string | null;
  spec_version: number | null;
  payload: Record<string, unknown>;
}

async function call(method: string, route: string, body?: unknown, token = api.tokens.dataInfra, type?: string) {
  const res = await fetch(`${api.url}${route}`, {
    method,
    headers: {
      Authorization: `Bearer ${token}`,
      ...(body !== undefined ? { 'Content-Type': type ?? 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

async function events(id = ID): Promise<JobEvent[]> {
  const res = await call('GET', `/api/v1/jobs/${id}/events?limit=1000`);
  expect(res.status).toBe(200);
  return res.json.items as JobEvent[];
}

const ofType = (all: JobEvent[], type: string) => all.filter((e) => e.event_type === type);

it("records the loop's runs, progress samples, resize and stop as job events, each once", async () => {
  expect(
    (
      await call(
        'POST',
        '/api/v1/manifests',
        streamingManifest('dcr-events', 'rate_to_files.py', ''),
        undefined,
        'application/yaml',
      )
    ).status,
  ).toBe(200);

  // The first run's RUN_STARTED, then samples of its live progress (the rate source's 20 rows/s).
  const first = await eventually(
    'three samples of the first run with rows flowing',
    async () => {
      const all = await events();
      const started = ofType(all, 'RUN_STARTED');
      const flowing = ofType(all, 'SAMPLE').filter((e) => Number(e.payload.inputRowsPerSecond) > 0);
      return started.length === 1 && flowing.length >= 3 ? { all, started: started[0]!, flowing } : undefined;
    },
    240_000,
  );
  const firstRun = first.started.execution_id!;
  expect(first.started).toMatchObject({ spec_version: 1, payload: { restartCount: 0 } });
  expect((first.started.payload.resources as { driver: { memoryMb: number } }).driver.memoryMb).toBe(1024);
  for (const s of first.flowing) {
    expect(s.execution_id).toBe(firstRun);
    expect(s.payload).toMatchObject({ queries: 1, verdict: 'keep', lagging: expect.any(Boolean) as boolean });
    expect(Number(s.payload.inputRowsPerSecond)).toBeGreaterThan(5);
    expect(Number(s.payload.inputRowsPerSecond)).toBeLessThan(80);
    expect(Number(s.payload.processedRowsPerSecond)).toBeGreaterThan(0);
    expect(Number(s.payload.batchDurationMs)).toBeGreaterThan(0);
    expect(typeof s.payload.detail).toBe('string');
  }
  // The loop's view carries the last sample too.
  const view = await call('GET', `/api/v1/jobs/${ID}`);
  expect(view.json.last_sample).toMatchObject({ input_rows_per_second: expect.any(Number) as number });

  // Team-scoped like the rest: another team's token sees no such job; an admin's does.
  expect((await call('GET', `/api/v1/jobs/${ID}/events`, undefined, api.tokens.other)).status).toBe(404);
  expect((await call('GET', `/api/v1/jobs/${ID}/events`, undefined, api.tokens.admin)).status).toBe(200);
  // Paged by seq.
  const page = await call('GET', `/api/v1/jobs/${ID}/events?limit=1`);
  expect(page.json.items).toHaveLength(1);
  const next = await call('GET', `/api/v1/jobs/${ID}/events?limit=1&after=${String(page.json.next_after)}`);
  expect((next.json.items as JobEvent[])[0]!.seq).toBeGreaterThan((page.json.items as JobEvent[])[0]!.seq);

  // A resize by REST: RESIZED names the old run, its old and new resources and why; then the new run starts.
  const resized = await call('PATCH', `/api/v1/jobs/${ID}/resources`, { executor: { instances: 2 } });
  expect(resized.status, JSON.stringify(resized.json)).toBe(200);
  const second = await eventually(
    'the resized run to be sampled',
    async () => {
      const all = await events();
      const started = ofType(all, 'RUN_STARTED');
      const run = started[1]?.execution_id;
      const samples = ofType(all, 'SAMPLE').filter((e) => e.execution_id === run);
      return run && samples.length >= 1 ? { all, run } : undefined;
    },
    240_000,
  );
  expect(second.run).not.toBe(firstRun);
  const resize = ofType(second.all, 'RESIZED');
  expect(resize).toHaveLength(1);
  expect(resize[0]).toMatchObject({
    execution_id: firstRun,
    spec_version: 2,
    payload: {
      source: 'request',
      from: { executor: { instances: 1 } },
      to: { executor: { instances: 2 } },
      detail: expect.stringContaining('resized through the API (executor.instances=2)') as string,
    },
  });
  expect(ofType(second.all, 'REDEPLOYED')).toHaveLength(0);
  const resizeSeq = resize[0]!.seq;
  expect(ofType(second.all, 'RUN_STARTED')[1]).toMatchObject({
    spec_version: 2,
    payload: { change: { cause: 'resize' } },
  });
  expect(ofType(second.all, 'RUN_STARTED')[1]!.seq).toBeGreaterThan(resizeSeq);
  // No sample of the old run after it was replaced.
  expect(ofType(second.all, 'SAMPLE').filter((e) => e.execution_id === firstRun && e.seq > resizeSeq)).toEqual([]);

  // A stop: STOPPED, once.
  expect((await call('POST', `/api/v1/jobs/${ID}/stop`)).status).toBe(200);
  const final = await eventually('STOPPED', async () => {
    const all = await events();
    return ofType(all, 'STOPPED').length > 0 ? all : undefined;
  });
  expect(ofType(final, 'STOPPED')).toHaveLength(1);
  expect(ofType(final, 'RUN_STARTED')).toHaveLength(2);
  expect(ofType(final, 'RESIZED')).toHaveLength(1);
  // Append-only and ordered: ids unique, seq strictly increasing.
  expect(new Set(final.map((e) => e.event_id)).size).toBe(final.length);
  expect(final.map((e) => e.seq)).toEqual([...final.map((e) => e.seq)].sort((a, b) => a - b));
}, 600_000);

const LAG_ID = 'continuous-data-infra.dcr-lag';

/** The batch ids the query has committed in its checkpoint. */
const committed = () =>
  fs.existsSync(path.join(work, 'lag-checkpoint', 'commits'))
    ? fs
        .readdirSync(path.join(work, 'lag-checkpoint', 'commits'))
        .filter((f) => /^\d+$/.test(f))
        .map(Number)
    : [];

/** Every `value` the sink holds for the batches committed by now (JSON lines under lag-out/batch=<id>/). */
function sinkValues(upTo: number): number[] {
  const out = path.join(work, 'lag-out');
  const values: number[] = [];
  for (let id = 0; id <= upTo; id++) {
    const dir = path.join(out, `batch=${id}`);
    for (const file of fs.readdirSync(dir).filter((f) => f.endsWith('.json'))) {
      for (const line of fs.readFileSync(path.join(dir, file), 'utf8').split('\n').filter(Boolean)) {
        values.push((JSON.parse(line) as { value: number }).value);
      }
    }
  }
  return values.sort((a, b) => a - b);
}

it('resizes a really lagging streaming job once by its lag rule, restarts it from the checkpoint, then cools down', async () => {
  expect(
    (
      await call(
        'POST',
        '/api/v1/manifests',
        streamingManifest('dcr-lag', 'lagging_rate_to_files.py', 'lag-'),
        undefined,
        'application/yaml',
      )
    ).status,
  ).toBe(200);

  // The first run lags for real: three lagging samples in a row, the third one's verdict a resize.
  const first = await eventually(
    "DCR's resize of the lagging job",
    async () => {
      const all = await events(LAG_ID);
      return ofType(all, 'RESIZED').length > 0 ? all : undefined;
    },
    300_000,
  );
  const lastCommittedBefore = Math.max(-1, ...committed());
  const firstRun = ofType(first, 'RUN_STARTED')[0]!.execution_id!;
  const resize = ofType(first, 'RESIZED');
  expect(resize).toHaveLength(1);
  const samples = ofType(first, 'SAMPLE').filter((e) => e.execution_id === firstRun && e.seq < resize[0]!.seq);
  const streak = samples.slice(-3);
  expect(streak.map((e) => e.payload.lagging)).toEqual([true, true, true]);
  expect(streak.map((e) => e.payload.verdict)).toEqual(['keep', 'keep', 'resize']);
  for (const e of streak) {
    expect(Number(e.payload.processedRowsPerSecond)).toBeLessThan(0.8 * Number(e.payload.inputRowsPerSecond));
  }
  // Rule 3: executors = max(n + 1, ⌈n × input / processed⌉), from the sample that decided.
  const decider = streak[2]!.payload;
  const expected = Math.max(2, Math.ceil(Number(decider.inputRowsPerSecond) / Number(decider.processedRowsPerSecond)));
  expect(resize[0]).toMatchObject({
    execution_id: firstRun,
    spec_version: 2,
    payload: {
      source: 'dcr:lag',
      from: { executor: { instances: 1 } },
      to: { executor: { instances: expected } },
      detail: expect.stringMatching(
        /^DCR \(lag\): 3 samples in a row below 0\.8 × the input rate .*executors 1 → \d+$/,
      ) as string,
    },
  });

  // The new run: started after the resize, with the new executor count, which its driver was given; it resumes
  // from the checkpoint (batch ids go on after the first run's last commit) and its sink holds every row once.
  const second = await eventually(
    'the resized run to commit a batch',
    async () => {
      const all = await events(LAG_ID);
      const started = ofType(all, 'RUN_STARTED')[1];
      return started && Math.max(-1, ...committed()) > lastCommittedBefore ? { all, started } : undefined;
    },
    240_000,
  );
  expect(second.started.seq).toBeGreaterThan(resize[0]!.seq);
  expect(second.started).toMatchObject({
    spec_version: 2,
    payload: { resources: { executor: { instances: expected } }, change: { cause: 'resize' } },
  });
  const secondRun = second.started.execution_id!;
  const exec = await call('GET', `/api/v1/executions/${secondRun}`);
  const ui = String(exec.json.spark_ui_url).replace(/\/+$/, '');
  const apps = (await (await fetch(`${ui}/api/v1/applications`)).json()) as { id: string }[];
  const env = (await (await fetch(`${ui}/api/v1/applications/${apps[0]!.id}/environment`)).json()) as {
    sparkProperties: [string, string][];
  };
  expect(env.sparkProperties).toContainEqual(['spark.executor.instances', String(expected)]);
  const commits = committed();
  expect(Math.min(...commits)).toBe(0);
  // A committed batch's output is complete (foreachBatch writes before the commit); the one in flight is not read.
  const values = sinkValues(Math.max(...commits));
  expect(values.length).toBeGreaterThan(0);
  expect(values).toEqual(values.map((_, i) => i)); // 0, 1, 2, …: none lost, none twice

  // Its next wave of lag is in the cool-down: the streak reaches 3 again and nothing is resized.
  const cooled = await eventually(
    'a lag streak of the resized run held by the cool-down',
    async () => {
      const all = await events(LAG_ID);
      const held = ofType(all, 'SAMPLE').find(
        (e) => e.execution_id === secondRun && Number(e.payload.laggingStreak) >= 3,
      );
      return held ? { all, held } : undefined;
    },
    240_000,
  );
  expect(cooled.held.payload).toMatchObject({
    verdict: 'keep',
    detail: expect.stringContaining('in the cool-down until') as string,
  });
  expect(ofType(cooled.all, 'RESIZED')).toHaveLength(1);
  expect(ofType(cooled.all, 'RUN_STARTED')).toHaveLength(2);

  expect((await call('POST', `/api/v1/jobs/${LAG_ID}/stop`)).status).toBe(200);
  await eventually('STOPPED', async () => ofType(await events(LAG_ID), 'STOPPED').length > 0 || undefined);
}, 900_000);

it('records an event once however often its writer retries (the idempotency key)', async () => {
  const event = {
    jobPath: 'data-infra/dcr-idempotent',
    type: 'SAMPLE' as const,
    idempotencyKey: 'run-1/7',
    at: new Date(),
    payload: { inputRowsPerSecond: 1 },
  };
  expect(await stack.store.jobEvents.append(event)).toBe(true);
  expect(await stack.store.jobEvents.append({ ...event, payload: { inputRowsPerSecond: 2 } })).toBe(false);
  expect(await stack.store.jobEvents.append({ ...event, idempotencyKey: 'run-1/8' })).toBe(true);
  const rows = await stack.store.jobEvents.list(event.jobPath, { limit: 10 });
  expect(rows.map((r) => r.payload)).toEqual([{ inputRowsPerSecond: 1 }, { inputRowsPerSecond: 1 }]);
});

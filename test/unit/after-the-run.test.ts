/**
 * The pure parts of "after the run" (issue 15), as data: METRICS_SUMMARY's Spark metrics summed from History
 * Server answers, the application id read from the driver's event-log line, the links, and the log chunker.
 */
import { describe, expect, it } from 'vitest';
import { ConfigSchema } from '../../config/index.js';
import { parseDriverStartup } from '../../gateway/backends/local/driver-log.js';
import { runStatusOf } from '../../gateway/backends/kubernetes/status.js';
import { historyPageUrl, summarizeMetrics, type ShsStage } from '../../observability/history-server.js';
import { createRunLinks, expandUiTemplate } from '../../observability/links.js';
import { SparkMetrics } from '../../schema/metrics-summary.js';
import { lineChunks } from '../../store/log-archive.js';

const stage = (overrides: Partial<ShsStage>): ShsStage => ({
  status: 'COMPLETE',
  numCompleteTasks: 0,
  numFailedTasks: 0,
  numKilledTasks: 0,
  executorRunTime: 0,
  executorCpuTime: 0,
  jvmGcTime: 0,
  memoryBytesSpilled: 0,
  diskBytesSpilled: 0,
  inputBytes: 0,
  inputRecords: 0,
  outputBytes: 0,
  outputRecords: 0,
  shuffleReadBytes: 0,
  shuffleReadRecords: 0,
  shuffleWriteBytes: 0,
  shuffleWriteRecords: 0,
  ...overrides,
});

describe('METRICS_SUMMARY from the History Server', () => {
  const app = { id: 'spark-1', attempts: [{ duration: 61_000, completed: true }] };

  it('sums every stage attempt, failed ones included, and counts the non-driver executors', () => {
    const metrics = summarizeMetrics(
      app,
      [
        stage({ numCompleteTasks: 8, executorRunTime: 4000, executorCpuTime: 2_500_000_000, jvmGcTime: 120 }),
        stage({
          status: 'FAILED',
          numCompleteTasks: 3,
          numFailedTasks: 2,
          memoryBytesSpilled: 10,
          diskBytesSpilled: 4,
        }),
        stage({
          numCompleteTasks: 5,
          numKilledTasks: 1,
          shuffleReadBytes: 700,
          shuffleWriteBytes: 900,
          outputRecords: 7,
        }),
      ],
      [
        { id: 'driver', maxMemory: 1000, peakMemoryMetrics: { JVMHeapMemory: 9999 } },
        { id: '1', maxMemory: 400, peakMemoryMetrics: { JVMHeapMemory: 300, OnHeapUnifiedMemory: 50 } },
        {
          id: '2',
          maxMemory: 400,
          peakMemoryMetrics: { JVMHeapMemory: 350, OnHeapUnifiedMemory: 20, OffHeapUnifiedMemory: 40 },
        },
      ],
      2,
    );
    expect(metrics).toMatchObject({
      app_id: 'spark-1',
      attempt: 2,
      duration_ms: 61_000,
      executor_count: 2,
      total_executor_memory_bytes: 800,
      peak_executor_memory_bytes: 60,
      peak_jvm_heap_bytes: 350,
      stage_count: 3,
      failed_stage_count: 1,
      task_count: 19,
      failed_task_count: 2,
      killed_task_count: 1,
      executor_run_time_ms: 4000,
      executor_cpu_time_ms: 2500,
      gc_time_ms: 120,
      memory_spill_bytes: 10,
      disk_spill_bytes: 4,
      shuffle_read_bytes: 700,
      shuffle_write_bytes: 900,
      output_records: 7,
    });
    expect(SparkMetrics.parse(metrics)).toEqual(metrics);
  });

  it('counts the driver as the one executor in local mode, where it runs the tasks', () => {
    const metrics = summarizeMetrics(app, [stage({ numCompleteTasks: 2 })], [{ id: 'driver', maxMemory: 455 }], 1);
    expect(metrics).toMatchObject({ executor_count: 1, total_executor_memory_bytes: 455, peak_jvm_heap_bytes: 0 });
  });

  it("links an application's History Server page, with its attempt when it has one", () => {
    expect(historyPageUrl({ url: 'http://localhost:18080/' }, 'local-1')).toBe(
      'http://localhost:18080/history/local-1/',
    );
    expect(historyPageUrl({ url: 'https://shs.example.com' }, 'app-1', '2')).toBe(
      'https://shs.example.com/history/app-1/2/',
    );
  });
});

describe('the application id and the links', () => {
  it("reads the application id from the driver's event-log line, rolling or single-file", () => {
    const rolling =
      '26/12/02 07:19:43 INFO RollingEventLogFilesWriter: Logging events to file:/data/spark-events/eventlog_v2_local-1796195983093/events_1_local-1796195983093.zstd';
    const single =
      '26/12/02 07:19:43 INFO SingleEventLogFileWriter: Logging events to file:/tmp/e/local-17.zstd.inprogress';
    expect(parseDriverStartup(rolling).appId).toBe('local-1796195983093');
    expect(parseDriverStartup(single).appId).toBe('local-17');
    expect(parseDriverStartup('INFO SparkContext: Running Spark version 4.0.1')).toEqual({ started: true });
  });

  it("gives a running Kubernetes run its cluster's live UI link and the operator's application id", () => {
    const app = {
      metadata: { name: 'sr-abc-123-a1' },
      status: {
        currentState: { currentStateSummary: 'RunningHealthy' },
        currentAttemptSummary: { attemptInfo: { id: 1 } },
      },
    };
    const run = { executionId: 'e', attempt: 1, vendorRunId: 'east/sjns-x/sr-abc-123-a1' };
    const status = runStatusOf(app, run, 'now', { uiUrlTemplate: 'https://spark.example.com/{namespace}/{appId}/' });
    expect(status).toMatchObject({
      appId: 'sr-abc-123-a1-1',
      sparkUiUrl: 'https://spark.example.com/sjns-x/sr-abc-123-a1-1/',
    });
    expect(runStatusOf(app, run, 'now').sparkUiUrl).toBeUndefined();
    expect(expandUiTemplate('{name}/{name}', { namespace: 'n', name: 'a b', appId: 'x' })).toBe('a%20b/a%20b');
  });

  it('finds each run’s History Server by backend and cluster, and links each attempt’s archived log', () => {
    const links = createRunLinks({
      apiPublicUrl: 'https://runner.example.com',
      localHistoryServer: 'http://localhost:18080',
      clusterHistoryServers: { east: 'https://shs-east.example.com' },
    });
    expect(links.historyServerFor('local')).toEqual({ url: 'http://localhost:18080' });
    expect(links.historyServerFor('kubernetes', 'east')).toEqual({ url: 'https://shs-east.example.com' });
    expect(links.historyServerFor('kubernetes', 'west')).toBeUndefined();
    expect(links.historyServerFor('emr', 'vc')).toBeUndefined();
    expect(links.attemptLogUrl('e1', 2)).toBe('https://runner.example.com/api/v1/jobs/e1/logs?attempt=2');
  });

  it('parses per-team retention as team=days, fractions allowed, and names a bad entry', () => {
    const base = { LOG_RETENTION_BY_TEAM: 'payments=7, ads=0.5' };
    expect(ConfigSchema.parse(base).LOG_RETENTION_BY_TEAM).toEqual({ payments: 7, ads: 0.5 });
    expect(ConfigSchema.safeParse({ EXECUTION_RETENTION_BY_TEAM: 'payments' }).success).toBe(false);
  });
});

describe('log chunks', () => {
  async function chunksOf(pieces: string[], size: number): Promise<string[]> {
    const out: string[] = [];
    for await (const chunk of lineChunks(
      pieces.map((piece) => Buffer.from(piece)),
      size,
    ))
      out.push(chunk.toString());
    return out;
  }

  it('cuts at the last newline within the size, and cuts a line longer than a chunk where it must', async () => {
    expect(await chunksOf(['aa\nbb', 'b\ncc\n', 'dd'], 8)).toEqual(['aa\nbbb\n', 'cc\ndd']);
    expect(await chunksOf(['x'.repeat(10), '\n'], 4)).toEqual(['xxxx', 'xxxx', 'xx\n']);
  });
});

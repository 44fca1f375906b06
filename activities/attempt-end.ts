/**
 * What happens when an attempt has ended, in one activity (so an execution's history gains three events, not
 * one per chore): its driver log is archived (store/log-archive.ts), and its Spark application is read from the
 * History Server that reads its event log (observability/history-server.ts), for METRICS_SUMMARY and for the
 * link that replaces the live UI. Both run side by side; the History Server wait is bounded.
 *
 * Idempotent: the archive's first complete copy wins, and the row's links and metrics are overwritten with the
 * same values. Neither part fails the activity for a reason a retry cannot fix: a run with no application id, no
 * History Server, or one that never lists the application is reported in `unavailable`; a log that cannot be
 * read is thrown (transient: the backend may answer on a retry), and the workflow goes on without an archive
 * once its retries are spent.
 */
import { heartbeat } from '@temporalio/activity';
import type { VendorRun } from '../gateway/backend.js';
import type { SparkGateway } from '../gateway/index.js';
import { awaitApplication } from '../observability/history-server.js';
import { executionLog } from '../observability/log-context.js';
import type { RunLinks } from '../observability/links.js';
import type { SparkMetrics } from '../schema/metrics-summary.js';
import type { ExecutionStore } from '../store/executions.js';

export interface AttemptEndDeps {
  gateway: SparkGateway;
  store: ExecutionStore;
  links: RunLinks;
  settings: {
    /** How long to wait for the History Server to list the application as completed. */
    historyWaitMs: number;
    /** Largest archived log per attempt (LOG_ARCHIVE_MAX_BYTES). */
    logArchiveMaxBytes: number;
  };
}

export interface CloseAttemptInput {
  executionId: string;
  team: string;
  attempt: number;
  run: VendorRun;
  /** The Spark application id the backend reported, if the driver got that far. */
  appId?: string;
}

export interface AttemptClosed {
  /** The application's metrics, when its History Server had them. */
  metrics?: SparkMetrics;
  /** Its History Server page, once that answered 200. */
  historyUrl?: string;
  /** Why there are no metrics or page. */
  unavailable?: string;
  /** Bytes archived, and whether the log was cut to LOG_ARCHIVE_MAX_BYTES. */
  archived: { bytes: number; truncated: boolean };
}

const HEARTBEAT_MS = 5_000;

export function createAttemptEndActivities({ gateway, store, links, settings }: AttemptEndDeps) {
  async function archive(input: CloseAttemptInput) {
    const backend = gateway.backend(input.run.backend);
    const open = (): AsyncIterable<Uint8Array> =>
      backend.openLog
        ? backend.openLog(input.run)
        : (async function* () {
            yield Buffer.from(await backend.logs(input.run));
          })();
    return store.logs.archive({ executionId: input.executionId, attempt: input.attempt }, open, {
      team: input.team,
      maxBytes: settings.logArchiveMaxBytes,
      ...(input.appId ? { appId: input.appId } : {}),
    });
  }

  async function history(input: CloseAttemptInput) {
    const server = links.historyServerFor(input.run.backend, input.run.cluster);
    if (!input.appId) return { kind: 'unavailable', reason: 'the run never reported a Spark application id' } as const;
    if (!server) {
      const where = input.run.backend === 'kubernetes' ? ` for cluster ${input.run.cluster}` : '';
      return { kind: 'unavailable', reason: `no History Server is configured${where}` } as const;
    }
    return awaitApplication(server, input.appId, { attempt: input.attempt, timeoutMs: settings.historyWaitMs });
  }

  return {
    /** Archives the attempt's log and reads its application from the History Server; see the file header. */
    async closeAttempt(input: CloseAttemptInput): Promise<AttemptClosed> {
      const beat = setInterval(() => heartbeat(), HEARTBEAT_MS);
      try {
        const [archived, read] = await Promise.all([archive(input), history(input)]);
        const historyUrl = read.kind === 'ready' ? read.pageUrl : undefined;
        await store.patchExecution(input.executionId, {
          sparkAppId: input.appId ?? null,
          // The live UI died with the driver: the History Server page, or nothing.
          sparkUiUrl: historyUrl ?? null,
          ...(input.run.sparkUiUrl ? {} : historyUrl ? { vendorWebui: historyUrl } : {}),
          vendorLogsLink: input.run.logsUrl ?? links.attemptLogUrl(input.executionId, input.attempt),
          metrics: read.kind === 'ready' ? read.metrics : null,
        });
        executionLog().info(
          {
            archivedBytes: archived.bytes,
            truncated: archived.truncated,
            ...(read.kind === 'ready' ? { historyUrl } : { metricsUnavailable: read.reason }),
          },
          'attempt closed: log archived',
        );
        return {
          ...(read.kind === 'ready' ? { metrics: read.metrics, historyUrl } : { unavailable: read.reason }),
          archived: { bytes: archived.bytes, truncated: archived.truncated },
        };
      } finally {
        clearInterval(beat);
      }
    },
  };
}

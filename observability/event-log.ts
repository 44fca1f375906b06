/**
 * Spark event logging, the History Server's input: the same settings for every backend that writes event logs
 * (local runs into a directory under the data dir, Kubernetes runs into their cluster's `eventLogDir`), and what
 * the retention sweep needs to find them in a local directory.
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * The Spark conf that writes event logs to `dirUri` (`file:///…`, `s3a://…`). Peak memory reaches the event log
 * only when executor metrics are polled (by default they ride the 10 s heartbeat, which a short job never sees)
 * and stage peaks are logged, so both are on: METRICS_SUMMARY's peak memory comes from them. Platform defaults:
 * a job's own sparkConf may override them.
 */
export function eventLogConf(dirUri: string): Record<string, string> {
  return {
    'spark.eventLog.enabled': 'true',
    'spark.eventLog.dir': dirUri,
    'spark.executor.metrics.pollingInterval': '1s',
    'spark.eventLog.logStageExecutorMetrics': 'true',
  };
}

/** One application's event log in a local event-log directory. */
export interface EventLogEntry {
  appId: string;
  path: string;
  modifiedAt: Date;
  /** The driver has not closed it yet (or died without closing it). */
  inProgress: boolean;
}

const CODECS = /\.(lz4|lzf|snappy|zstd)$/;

/**
 * The event logs in `dir`: rolling ones are directories `eventlog_v2_<appId>/` (in progress while an
 * `appstatus_<appId>.inprogress` file is in them), single ones are files `<appId>[.<codec>][.inprogress]`.
 */
export async function listEventLogs(dir: string): Promise<EventLogEntry[]> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const logs: EventLogEntry[] = [];
  for (const entry of entries) {
    const path = join(dir, entry.name);
    const info = await stat(path).catch(() => undefined);
    if (!info || entry.name.startsWith('.')) continue;
    if (entry.isDirectory() && entry.name.startsWith('eventlog_v2_')) {
      const appId = entry.name.slice('eventlog_v2_'.length);
      const files = await readdir(path).catch(() => [] as string[]);
      let modified = info.mtimeMs;
      for (const file of files) modified = Math.max(modified, (await stat(join(path, file)).catch(() => info)).mtimeMs);
      const inProgress = files.some((f) => f.startsWith('appstatus_') && f.endsWith('.inprogress'));
      logs.push({ appId, path, modifiedAt: new Date(modified), inProgress });
    } else if (entry.isFile()) {
      const inProgress = entry.name.endsWith('.inprogress');
      const appId = entry.name.replace(/\.inprogress$/, '').replace(CODECS, '');
      logs.push({ appId, path, modifiedAt: info.mtime, inProgress });
    }
  }
  return logs;
}

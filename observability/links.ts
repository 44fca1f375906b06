/**
 * The absolute links every execution carries, built in one place from configured public bases:
 *
 * | link                       | while the attempt runs                   | after it ended                              |
 * |----------------------------|------------------------------------------|---------------------------------------------|
 * | `spark_ui_url`             | the live Spark UI (local: from the       | the History Server page of the application, |
 * |                            | driver; Kubernetes: the cluster's        | once it answers 200; else null              |
 * |                            | `sparkUiUrlTemplate`, or null)           |                                             |
 * | `logs_url`                 | `<API_PUBLIC_URL>/api/v1/jobs/<id>/logs` (live, then the archive)                      |
 * | `vendor_logs_link`         | the vendor's (EMR: the S3 prefix), else the attempt's archived log                     |
 * | `vendor_webui`             | the vendor's page (EMR: the console), else the live UI, then the History Server page   |
 */
import type { BackendName } from '../schema/states.js';
import type { HistoryServer } from './history-server.js';

export interface RunLinks {
  /** The History Server that reads the event logs of runs on this backend (and cluster), if one is configured. */
  historyServerFor(backend: BackendName, cluster?: string): HistoryServer | undefined;
  /** `<api>/api/v1/jobs/<executionId>/logs?attempt=<n>`: that attempt's log, archived once it has ended. */
  attemptLogUrl(executionId: string, attempt: number): string;
}

export interface RunLinkOptions {
  /** This API's public base, without a trailing slash. */
  apiPublicUrl: string;
  /** The History Server of local runs. */
  localHistoryServer?: string;
  /** Each Kubernetes cluster's History Server (the one reading its `eventLogDir`), by cluster name. */
  clusterHistoryServers?: Record<string, string>;
}

/** `<api>/api/v1/jobs/<executionId>/logs`: the execution's current attempt's log. */
export function executionLogsUrl(apiPublicUrl: string, executionId: string): string {
  return `${apiPublicUrl}/api/v1/jobs/${executionId}/logs`;
}

/**
 * Expands a cluster's live Spark UI template: `{namespace}`, `{name}` (the SparkApplication) and `{appId}`
 * (`<name>-<attemptId>`, the operator's `spark.app.id`).
 */
export function expandUiTemplate(template: string, values: { namespace: string; name: string; appId: string }): string {
  return template.replace(/\{(namespace|name|appId)\}/g, (_, key: keyof typeof values) =>
    encodeURIComponent(values[key]),
  );
}

export function createRunLinks(options: RunLinkOptions): RunLinks {
  return {
    historyServerFor(backend, cluster) {
      const url =
        backend === 'local'
          ? options.localHistoryServer
          : backend === 'kubernetes' && cluster
            ? options.clusterHistoryServers?.[cluster]
            : undefined;
      return url ? { url } : undefined;
    },
    attemptLogUrl: (executionId, attempt) =>
      `${executionLogsUrl(options.apiPublicUrl, executionId)}?attempt=${attempt}`,
  };
}

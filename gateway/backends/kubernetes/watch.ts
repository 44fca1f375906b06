/**
 * One list-then-watch loop over every namespace's SparkApplications with our label
 * (`app.kubernetes.io/managed-by=spark-runner`) on one cluster, the way a client-go reflector does it:
 * - list (paged), remember the list's `resourceVersion`, then watch from it with bookmarks;
 * - each event moves the `resourceVersion` on; a watch the server closes (its `timeoutSeconds`) resumes from it;
 * - 410 Gone (the version was compacted away), as an HTTP answer or an ERROR event, means re-list;
 * - any other error backs off (doubling, capped) and re-lists, since events may have been missed.
 *
 * A re-list yields every listed object as `LISTED`, so a consumer re-derives any change it missed.
 */
import type { CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { Watch } from '@kubernetes/client-node';
import { platformMetrics } from '../../../observability/platform-metrics.js';
import { pause } from '../pause.js';
import { LABELS, MANAGED_BY, SPARK_APP_GROUP, SPARK_APP_PLURAL, SPARK_APP_VERSION } from './build.js';
import type { ObservedSparkApplication } from './status.js';
import type { Throttle } from './throttle.js';
import { httpStatusOf } from './throttle.js';

export type WatchedSparkApplication = ObservedSparkApplication & {
  metadata?: ObservedSparkApplication['metadata'] & { resourceVersion?: string };
};

export interface WatchEvent {
  type: 'LISTED' | 'ADDED' | 'MODIFIED' | 'DELETED';
  object: WatchedSparkApplication;
}

export interface WatchLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export interface SparkApplicationWatchOptions {
  cluster: string;
  kubeConfig: KubeConfig;
  api: CustomObjectsApi;
  throttle: Throttle;
  /** Server-side watch timeout; the watch is then resumed from the last resourceVersion. Default 300 s. */
  timeoutSeconds?: number;
  /** Backoff after an error: first and cap; defaults 500 ms and 30 s. */
  backoffMs?: { min: number; max: number };
  /** Page size of the list. Default 500. */
  pageSize?: number;
  /** Start from this resourceVersion instead of listing (tests use it to provoke 410 Gone). */
  startResourceVersion?: string;
  logger?: WatchLogger;
  /** Called on every re-list, with the reason (tests and metrics). */
  onRelist?: (reason: 'start' | 'gone' | 'error') => void;
  /**
   * Called with true once a list has been yielded and its watch is open (every change from then on arrives), and
   * with false as soon as a watch fails (until the re-list after the backoff). A server-side timeout or a 410 Gone
   * is a resume, not a failure.
   */
  onHealth?: (healthy: boolean) => void;
}

export const MANAGED_SELECTOR = `${LABELS.managedBy}=${MANAGED_BY}`;
const PATH = `/apis/${SPARK_APP_GROUP}/${SPARK_APP_VERSION}/${SPARK_APP_PLURAL}`;

type Item = { kind: 'event'; event: WatchEvent } | { kind: 'gone' } | { kind: 'done'; error?: unknown };

class Gone extends Error {}

/** Yields every change of our SparkApplications on one cluster until `signal` aborts. */
export async function* watchSparkApplications(
  options: SparkApplicationWatchOptions,
  signal: AbortSignal,
): AsyncIterable<WatchEvent> {
  const backoff = options.backoffMs ?? { min: 500, max: 30_000 };
  let delay = backoff.min;
  let resourceVersion: string | undefined = options.startResourceVersion;
  let reason: 'start' | 'gone' | 'error' = 'start';
  while (!signal.aborted) {
    try {
      if (resourceVersion === undefined) {
        options.onRelist?.(reason);
        const listed = await list(options);
        resourceVersion = listed.resourceVersion;
        for (const object of listed.items) yield { type: 'LISTED', object };
      }
      options.onHealth?.(true);
      for await (const item of watchOnce(options, resourceVersion, signal)) {
        if (item.kind === 'gone') throw new Gone();
        if (item.kind === 'done') {
          if (item.error !== undefined && item.error !== null) throw asError(item.error);
          break; // the server ended the watch (timeout): resume from the last version
        }
        const rv = item.event.object.metadata?.resourceVersion;
        if (rv) resourceVersion = rv;
        delay = backoff.min;
        if (item.event.type !== 'LISTED') yield item.event;
      }
    } catch (err) {
      if (signal.aborted) return;
      if (err instanceof Gone || httpStatusOf(err) === 410) {
        options.logger?.info({ cluster: options.cluster, resourceVersion }, 'watch expired (410 Gone): re-listing');
        resourceVersion = undefined;
        reason = 'gone';
        platformMetrics.watchRelists.inc({ cluster: options.cluster, reason });
        continue;
      }
      options.onHealth?.(false);
      options.logger?.warn(
        { cluster: options.cluster, err: String(err), retryInMs: delay },
        'SparkApplication watch failed; backing off',
      );
      resourceVersion = undefined;
      reason = 'error';
      platformMetrics.watchRelists.inc({ cluster: options.cluster, reason });
      if (!(await pause(delay, signal))) return;
      delay = Math.min(backoff.max, delay * 2);
    }
  }
}

async function list(
  options: SparkApplicationWatchOptions,
): Promise<{ resourceVersion: string; items: WatchedSparkApplication[] }> {
  const items: WatchedSparkApplication[] = [];
  let cont: string | undefined;
  let resourceVersion = '';
  do {
    const page = (await options.throttle.call(() =>
      options.api.listCustomObjectForAllNamespaces({
        group: SPARK_APP_GROUP,
        version: SPARK_APP_VERSION,
        plural: SPARK_APP_PLURAL,
        labelSelector: MANAGED_SELECTOR,
        limit: options.pageSize ?? 500,
        ...(cont ? { _continue: cont } : {}),
      }),
    )) as { metadata?: { resourceVersion?: string; _continue?: string; continue?: string }; items?: unknown[] };
    items.push(...((page.items ?? []) as WatchedSparkApplication[]));
    resourceVersion = page.metadata?.resourceVersion ?? resourceVersion;
    cont = page.metadata?._continue ?? page.metadata?.continue;
  } while (cont);
  return { resourceVersion, items };
}

/** One watch request, as an async stream of items ending with `done` (or `gone`). */
async function* watchOnce(
  options: SparkApplicationWatchOptions,
  resourceVersion: string,
  signal: AbortSignal,
): AsyncIterable<Item> {
  const queue: Item[] = [];
  let wake: (() => void) | undefined;
  const push = (item: Item) => {
    queue.push(item);
    wake?.();
  };
  const watch = new Watch(options.kubeConfig);
  const controller = await options.throttle.call(() =>
    watch.watch(
      PATH,
      {
        labelSelector: MANAGED_SELECTOR,
        resourceVersion,
        allowWatchBookmarks: true,
        timeoutSeconds: options.timeoutSeconds ?? 300,
      },
      (type: string, object: WatchedSparkApplication & { code?: number }) => {
        if (type === 'ERROR') {
          push(object.code === 410 ? { kind: 'gone' } : { kind: 'done', error: new Error(JSON.stringify(object)) });
        } else if (type === 'BOOKMARK') {
          push({ kind: 'event', event: { type: 'LISTED', object } });
        } else if (type === 'ADDED' || type === 'MODIFIED' || type === 'DELETED') {
          push({ kind: 'event', event: { type, object } });
        }
      },
      (err: unknown) => push({ kind: 'done', error: err }),
    ),
  );
  const onAbort = () => {
    controller.abort();
    push({ kind: 'done' });
  };
  signal.addEventListener('abort', onAbort, { once: true });
  if (signal.aborted) onAbort();
  try {
    for (;;) {
      const item = queue.shift();
      if (!item) {
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
        continue;
      }
      yield item;
      if (item.kind !== 'event') return;
    }
  } finally {
    signal.removeEventListener('abort', onAbort);
    controller.abort();
  }
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/**
 * Pushes status to workflows: every change a backend's watch() reports becomes a `status` signal to the
 * execution's workflow. Runs in the worker, or in the watcher process; a change for a workflow that has already
 * finished is dropped.
 */
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { Logger } from 'pino';
import { statusSignal } from '../workflows/definitions.js';
import { executionWorkflowId } from '../schema/vocabulary.js';
import type { StatusSource } from '../gateway/backend.js';

export interface StatusForwarder {
  stop(): Promise<void>;
}

export function forwardStatus(sources: StatusSource[], client: Client, logger: Logger): StatusForwarder {
  const abort = new AbortController();
  const loops = sources.map(async (source) => {
    while (!abort.signal.aborted) {
      try {
        for await (const status of source.watch(abort.signal)) {
          const handle = client.workflow.getHandle(executionWorkflowId(status.executionId));
          handle.signal(statusSignal, status).catch((err: unknown) => {
            if (err instanceof WorkflowNotFoundError) return;
            logger.warn({ err, executionId: status.executionId }, 'status signal not delivered; polling will catch up');
          });
        }
      } catch (err) {
        if (abort.signal.aborted) break;
        logger.error({ err, backend: source.name }, 'status watch failed; restarting in 1 s');
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  });
  return {
    async stop() {
      abort.abort();
      await Promise.allSettled(loops);
    },
  };
}

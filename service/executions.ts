/**
 * Cancel, the one way an execution is stopped on request: by the API's DELETE, by the continuous-job loop's
 * stop and redeploy (its activity), and by tests. It sends the execution workflow its `cancel` Update, whose
 * validator refuses an execution that has already finished.
 */
import { WorkflowNotFoundError, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { isTerminal } from '../schema/states.js';
import type { ExecutionRow } from '../store/executions.js';
import { cancelUpdate, type CancelRequest } from '../workflows/definitions.js';
import { Conflict } from './errors.js';
import { executionHandle } from './handles.js';

export interface CancelOptions {
  /**
   * `accepted` returns once the execution has taken the request (the API: 202); `completed` once it has ended,
   * its backend run stopped (the continuous-job loop, before it starts the next run).
   */
  waitFor: 'accepted' | 'completed';
  /** Makes a repeated request the same Update (the loop's retried activity). */
  updateId?: string;
}

/** Cancels an execution; `Conflict` when it has already finished (or its workflow is gone). */
export async function cancelExecution(
  deps: { client: Client },
  execution: Pick<ExecutionRow, 'executionId' | 'state'>,
  request: CancelRequest,
  options: CancelOptions,
): Promise<void> {
  const finished = () => new Conflict(`execution ${execution.executionId} already finished: ${execution.state}`);
  if (isTerminal(execution.state)) throw finished();
  const handle = executionHandle(deps.client, execution.executionId);
  try {
    if (options.waitFor === 'accepted') {
      await handle.startUpdate(cancelUpdate, {
        args: [request],
        waitForStage: 'ACCEPTED',
        ...(options.updateId ? { updateId: options.updateId } : {}),
      });
    } else {
      await handle.executeUpdate(cancelUpdate, {
        args: [request],
        ...(options.updateId ? { updateId: options.updateId } : {}),
      });
    }
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError || err instanceof WorkflowNotFoundError) throw finished();
    throw err;
  }
}

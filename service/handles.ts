import type { Client, WorkflowHandle } from '@temporalio/client';
import { executionWorkflowId } from '../schema/vocabulary.js';
import type { ExecutionWorkflow } from '../workflows/definitions.js';

/** A typed handle on an execution's workflow. */
export function executionHandle(client: Client, executionId: string): WorkflowHandle<ExecutionWorkflow> {
  return client.workflow.getHandle<ExecutionWorkflow>(executionWorkflowId(executionId));
}

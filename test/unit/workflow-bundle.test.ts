/**
 * Workflow code runs in Temporal's deterministic sandbox. Bundling it the way the worker does catches a Node
 * import that type-checks but would break at run time (STYLE.md §1).
 */
import { bundleWorkflowCode } from '@temporalio/worker';
import { expect, it } from 'vitest';
import { WORKFLOWS_PATH } from '../../worker/index.js';

it('bundles the workflows for the sandbox without any Node-only module', async () => {
  const { code } = await bundleWorkflowCode({
    workflowsPath: WORKFLOWS_PATH,
    logger: {
      log: () => undefined,
      info: () => undefined,
      warn: () => undefined,
      error: () => undefined,
      debug: () => undefined,
      trace: () => undefined,
    },
  });
  expect(code).toContain('executionWorkflow');
  expect(code).not.toMatch(/require\(["']node:(fs|child_process|crypto)["']\)/);
}, 120_000);

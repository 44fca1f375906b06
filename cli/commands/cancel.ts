/** `spark-runner cancel <id>`: asks the workflow to stop the run; it ends as CANCELLED once Spark has stopped. */
import type { Command } from 'commander';
import type { CancelAccepted } from '../../api/wire.js';
import { jobPath, type Runtime } from './shared.js';

export function registerCancel(program: Command, rt: Runtime): void {
  program
    .command('cancel')
    .description('cancel an execution that has not finished (a finished one is refused with its final state)')
    .argument('<id>', 'execution id')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const res = await rt.api(cmd).json<CancelAccepted>('DELETE', jobPath(id));
      rt.ctx.stdout.write(
        `cancel requested for ${res.execution_id}; it ends as CANCELLED once Spark has stopped ` +
          `(spark-runner status ${res.execution_id})\n`,
      );
    });
}

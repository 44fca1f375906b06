/**
 * `spark-runner admin temporal-setup`: the namespace and search attributes Spark Runner needs on a Temporal cluster
 * (service/temporal-setup.ts). Unlike the other commands it talks to Temporal, not to the API, with the same
 * TEMPORAL_* settings as the API and worker (address, namespace, TLS, API key). The compose file's one-shot
 * service and the Helm chart's hook Job run exactly this.
 */
import type { Command } from 'commander';
import { ConfigError, DependencyError, loadConfig, temporalAddress } from '../../config/index.js';
import { connectTemporal } from '../../config/temporal.js';
import { describeSetup, setupTemporal } from '../../service/temporal-setup.js';
import { CliError } from '../errors.js';
import { positiveInt, type Runtime } from './shared.js';

/** Configuration and dependency problems are one line for people, as the entry points print them. */
async function asCliError<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof ConfigError || err instanceof DependencyError) throw new CliError(err.message);
    throw err;
  }
}

export function registerAdmin(program: Command, rt: Runtime): void {
  const admin = program
    .command('admin')
    .description('operator commands that talk to Temporal directly (TEMPORAL_* settings, as the API and worker)');
  admin
    .command('temporal-setup')
    .description(
      'create the namespace (TEMPORAL_NAMESPACE, retention TEMPORAL_NAMESPACE_RETENTION_DAYS) if missing, and ' +
        'register the search attributes; a second run changes nothing',
    )
    .option('--timeout <seconds>', 'how long to wait for the changes to be usable', positiveInt, 120)
    .action(async (opts: { timeout: number }) => {
      await asCliError(async () => {
        const config = loadConfig(rt.ctx.env);
        const connection = await connectTemporal(config);
        try {
          const result = await setupTemporal(
            { connection, address: temporalAddress(config), namespace: config.TEMPORAL_NAMESPACE },
            { retentionDays: config.TEMPORAL_NAMESPACE_RETENTION_DAYS, timeoutMs: opts.timeout * 1000 },
          );
          for (const line of describeSetup(result)) rt.ctx.stdout.write(`${line}\n`);
        } finally {
          await connection.close();
        }
      });
    });
}

/**
 * Shared entry-point wrapper: known, user-fixable problems (bad configuration, a missing prerequisite) are printed
 * as one line without a stack trace, and the process exits non-zero.
 */
import { ConfigError, DependencyError } from '../config/index.js';

export function runMain(name: string, main: () => Promise<void>): void {
  main().catch((err: unknown) => {
    if (err instanceof ConfigError || err instanceof DependencyError) {
      process.stderr.write(`${name}: ${err.message}\n`);
    } else {
      process.stderr.write(`${name}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    }
    process.exit(1);
  });
}

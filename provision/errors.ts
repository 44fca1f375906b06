import { DependencyError } from '../config/index.js';

/**
 * A prerequisite that could not be provisioned. The message is one line for a person: what is missing and how
 * to provide it. Entry points print it without a stack trace and exit non-zero.
 */
export class ProvisionError extends DependencyError {
  override readonly name = 'ProvisionError';
}

/** The last `lines` lines a failed child process wrote to stderr (or the error itself), joined with " | ". */
export function failureDetail(err: unknown, lines = 1): string {
  return String((err as { stderr?: string }).stderr ?? err)
    .trim()
    .split('\n')
    .slice(-lines)
    .join(' | ');
}

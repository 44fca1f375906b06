/**
 * A prerequisite that could not be provisioned. The message is one line for a person: what is missing and how
 * to provide it. Entry points print it without a stack trace and exit non-zero.
 */
export class ProvisionError extends Error {
  override readonly name = 'ProvisionError';
}

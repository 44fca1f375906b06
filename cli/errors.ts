/**
 * The CLI's failure vocabulary and its exit codes. Expected failures (bad usage, an unreachable API, an API
 * problem) are printed for people, one line and a hint, never with a stack trace.
 *
 * Exit codes:
 *   0    the command did what was asked (with --wait: the job SUCCEEDED)
 *   1    with --wait: the job FAILED
 *   2    with --wait: the job was CANCELLED
 *   3    usage error, configuration error, the API could not be reached, or the API answered with an error
 *   130  interrupted (Ctrl-C)
 */
export const EXIT = { ok: 0, failed: 1, cancelled: 2, error: 3, interrupted: 130 } as const;

/** A field-level problem from a problem+json body. */
export interface FieldProblem {
  path: string;
  message: string;
}

/** RFC 9457 problem details as the API sends them. */
export interface Problem {
  type?: string;
  title?: string;
  status: number;
  detail?: string;
  errors?: FieldProblem[];
}

/** A failure the user can fix: printed as `error: <message>` and, when given, `hint: <hint>`. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
    readonly exitCode: number = EXIT.error,
  ) {
    super(message);
  }
}

/** The API answered with a 4xx/5xx. */
export class ApiError extends Error {
  constructor(
    readonly problem: Problem,
    /** What was being done, for hints that depend on it ("GET /api/v1/jobs/{id}"). */
    readonly request: { method: string; path: string },
  ) {
    super(problem.detail ?? problem.title ?? `HTTP ${problem.status}`);
  }
}

/** The API could not be reached at all (refused, DNS, reset, timed out). */
export class ConnectionError extends Error {
  constructor(
    readonly url: string,
    readonly reason: string,
  ) {
    super(`cannot reach the Spark Runner API at ${url}: is \`npm run dev\` running? (set --url or SPARK_RUNNER_URL)`);
  }
}

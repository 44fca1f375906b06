/** Turns any error into lines for people on stderr, and the exit code that goes with it. */
import type { Connection } from './config.js';
import type { Output } from './context.js';
import { ApiError, CliError, ConnectionError, EXIT, type Problem } from './errors.js';

/** Prints `err` and returns the exit code. Only an unexpected error (a bug) is printed with its stack. */
export function reportError(err: unknown, stderr: Output, connection?: Connection): number {
  const lines = describe(err, connection);
  stderr.write(lines.join('\n') + '\n');
  return err instanceof CliError ? err.exitCode : EXIT.error;
}

function describe(err: unknown, connection?: Connection): string[] {
  if (err instanceof ApiError) return describeProblem(err, connection);
  if (err instanceof ConnectionError) return [`error: ${err.message}`, `  (${err.reason})`];
  if (err instanceof CliError) return [`error: ${err.message}`, ...(err.hint ? [`hint: ${err.hint}`] : [])];
  return [`error: unexpected failure: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`];
}

function describeProblem(err: ApiError, connection?: Connection): string[] {
  const { problem } = err;
  const errors = problem.errors ?? [];
  // A validation detail is the field list run together; show the title instead and list the fields below it.
  const detailRepeatsFields =
    errors.length > 0 && problem.detail === errors.map((e) => `${e.path}: ${e.message}`).join('; ');
  const headline =
    detailRepeatsFields || !problem.detail ? (problem.title ?? `HTTP ${problem.status}`) : problem.detail;
  const lines = [`error: ${lowerFirst(headline)}`, ...errors.map((e) => `  - ${e.path}: ${e.message}`)];
  const hint = hintFor(problem, err.request.path, connection);
  return hint ? [...lines, `hint: ${hint}`] : lines;
}

function hintFor(problem: Problem, path: string, connection?: Connection): string | undefined {
  switch (problem.status) {
    case 401: {
      const sent = connection?.sources.token
        ? `the token sent came from ${connection.sources.token}`
        : 'no token was sent';
      return `set SPARK_RUNNER_TOKEN or --token to a valid API token (${sent})`;
    }
    case 403:
      return 'use a token of the team that owns it, or an admin token';
    case 404:
      if (problem.detail?.startsWith('no route'))
        return 'is --url (or SPARK_RUNNER_URL) pointing at a Spark Runner API?';
      if (path.startsWith('/api/v1/manifests/jobs/'))
        return 'check the job path (<team>/<name>, see spark-runner jobs list); jobs of other teams are not visible';
      if (path.startsWith('/api/v1/jobs/continuous-'))
        return 'check the id (continuous-<team>.<name>); streaming jobs of other teams are not visible';
      return 'check the id; executions of other teams are not visible';
    case 400:
      return problem.errors?.some((e) => e.path === 'team')
        ? 'name the team with --team (or "team" in the job file); admin tokens must'
        : undefined;
    case 409:
      return undefined; // the detail is the reason ("... already finished: SUCCEEDED")
    default:
      if (problem.status >= 500) return `the API failed while handling ${path}; its log has the details`;
      return undefined;
  }
}

function lowerFirst(text: string): string {
  return /^[A-Z][a-z]/.test(text) ? text[0]!.toLowerCase() + text.slice(1) : text;
}

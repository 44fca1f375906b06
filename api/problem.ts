/**
 * RFC 9457 problem details. Every error response is `application/problem+json`; validation problems list the
 * JSON path of each bad field. Stack traces never leave the process.
 */
import type { ErrorRequestHandler, Response } from 'express';
import type { z } from 'zod';
import { GRPC, grpcCodeOf } from '../config/temporal.js';
import { ManifestError, ManifestLimitError } from '../dcp/manifest.js';
import { BackendRejection } from '../gateway/backend.js';
import { Conflict, Forbidden, NotFound, Unavailable } from '../service/errors.js';
import { SubmitRejected } from '../service/submit.js';
import { isDatabaseUnreachable, isPoolExhausted } from '../store/db.js';

export interface FieldProblem {
  path: string;
  message: string;
  line?: number;
  column?: number;
}

export class HttpProblem extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    readonly detail: string,
    readonly errors?: FieldProblem[],
    /** Response headers the answer carries (e.g. Retry-After on a 503). */
    readonly headers?: Record<string, string>,
  ) {
    super(detail);
  }
}

export function fieldProblems(error: z.ZodError, prefix = ''): FieldProblem[] {
  const at = (segments: PropertyKey[]) => [prefix, ...segments.map(String)].filter(Boolean).join('.') || '(body)';
  return error.issues.flatMap((issue) =>
    // An unknown key is reported at its own path, so a typo points at itself.
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((key) => ({ path: at([...issue.path, key]), message: `unknown field "${key}"` }))
      : [{ path: at(issue.path), message: issue.message }],
  );
}

export function validationProblem(error: z.ZodError, prefix = ''): HttpProblem {
  const errors = fieldProblems(error, prefix);
  const detail = errors.map((e) => `${e.path}: ${e.message}`).join('; ');
  return new HttpProblem(400, 'Invalid request', detail, errors);
}

export function sendProblem(res: Response, problem: HttpProblem): void {
  if (problem.headers) res.set(problem.headers);
  res.status(problem.status).type('application/problem+json').json({
    type: 'about:blank',
    title: problem.title,
    status: problem.status,
    detail: problem.detail,
    errors: problem.errors,
  });
}

/** A manifest parse error: a 400 listing every issue with its file, line and column. */
export function manifestProblem(err: ManifestError): HttpProblem {
  return new HttpProblem(
    400,
    'Invalid manifest',
    `${err.issues.length} problem(s) in ${[...new Set(err.issues.map((i) => i.file))].join(', ')}`,
    err.issues.map((i) => ({
      path: i.field || '(document)',
      message: `${i.file}:${i.line}:${i.column}: ${i.message}`,
      line: i.line,
      column: i.column,
    })),
  );
}

/**
 * The one map from the domain's errors to HTTP answers:
 *
 * | error                                   | answer                                              |
 * |-----------------------------------------|-----------------------------------------------------|
 * | `SubmitRejected`                        | its 409 (idempotency conflict) or 422, with `field` |
 * | `BackendRejection`                      | 422 on its `field`, else on `backend`               |
 * | `NotFound` (incl. another team's thing) | 404                                                 |
 * | `Conflict` (e.g. Update refused: ended) | 409                                                 |
 * | `Forbidden`                             | 403                                                 |
 * | `Unavailable` (a worker does not answer)| 503                                                 |
 * | `ManifestError`                         | 400, each issue with its line and column            |
 * | `ManifestLimitError` (aliases, depth...)| 422 naming the limit                                |
 * | Postgres pool exhausted (wait timed out)| 503 with `Retry-After`                              |
 * | Postgres or Temporal not answering      | 503 with `Retry-After` (an outage: retry, same key) |
 * | body too large / malformed JSON         | 413 / 400                                           |
 *
 * Anything else is a bug or an outage: undefined here, a bare 500 from the handler.
 */
export function problemOf(err: unknown): HttpProblem | undefined {
  if (err instanceof HttpProblem) return err;
  if (err instanceof SubmitRejected) {
    const title = err.status === 409 ? 'Conflict' : 'Unprocessable request';
    return new HttpProblem(
      err.status,
      title,
      err.message,
      err.field ? [{ path: err.field, message: err.message }] : undefined,
    );
  }
  if (err instanceof BackendRejection) {
    const path = err.field ?? 'backend';
    return new HttpProblem(422, 'Unprocessable request', err.message, [{ path, message: err.message }]);
  }
  if (err instanceof NotFound) return new HttpProblem(404, 'Not found', err.message);
  if (err instanceof Conflict) return new HttpProblem(409, 'Conflict', err.message);
  if (err instanceof Forbidden) return new HttpProblem(403, 'Forbidden', err.message);
  if (err instanceof Unavailable) return new HttpProblem(503, 'Service unavailable', err.message);
  if (err instanceof ManifestError) return manifestProblem(err);
  if (err instanceof ManifestLimitError) {
    return new HttpProblem(422, 'Manifest over a limit', err.message, [{ path: '(body)', message: err.message }]);
  }
  if (isPoolExhausted(err)) {
    return new HttpProblem(503, 'Service unavailable', 'every database connection is busy; retry shortly', undefined, {
      'Retry-After': String(POOL_RETRY_AFTER_S),
    });
  }
  // Found by the fault drill (bench/drill.ts): a submit while Postgres or the Temporal frontend restarts was a 500.
  const down = isDatabaseUnreachable(err) ? 'Postgres' : grpcCodeOf(err) === GRPC.UNAVAILABLE ? 'Temporal' : undefined;
  if (down) {
    return new HttpProblem(503, 'Service unavailable', `${down} is not answering; retry shortly`, undefined, {
      'Retry-After': String(POOL_RETRY_AFTER_S),
    });
  }
  const e = err as { type?: string; status?: number; message?: string };
  if (e.type === 'entity.too.large') return new HttpProblem(413, 'Request body too large', e.message ?? '');
  if (e.type === 'entity.parse.failed') {
    return new HttpProblem(400, 'Malformed JSON', `the request body is not valid JSON: ${e.message}`);
  }
  if (e.status && e.status >= 400 && e.status < 500) return new HttpProblem(e.status, 'Bad request', e.message ?? '');
  return undefined;
}

/** Seconds a client is told to wait when the database pool is exhausted. */
export const POOL_RETRY_AFTER_S = 1;

/** The last middleware: every known problem by `problemOf`, anything else as a bare 500. */
export function problemHandler(log: (err: unknown) => void): ErrorRequestHandler {
  return (err: unknown, _req, res, _next) => {
    const problem = problemOf(err);
    if (problem) return sendProblem(res, problem);
    log(err);
    sendProblem(res, new HttpProblem(500, 'Internal error', 'the server failed to handle this request; see its logs'));
  };
}

/**
 * RFC 9457 problem details. Every error response is `application/problem+json`; validation problems list the
 * JSON path of each bad field. Stack traces never leave the process.
 */
import type { ErrorRequestHandler, Response } from 'express';
import type { z } from 'zod';

export interface FieldProblem {
  path: string;
  message: string;
}

export class HttpProblem extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    readonly detail: string,
    readonly errors?: FieldProblem[],
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
  res.status(problem.status).type('application/problem+json').json({
    type: 'about:blank',
    title: problem.title,
    status: problem.status,
    detail: problem.detail,
    errors: problem.errors,
  });
}

/** The last middleware: known problems as they are, body-parser errors as 400/413, anything else as a bare 500. */
export function problemHandler(log: (err: unknown) => void): ErrorRequestHandler {
  return (err: unknown, _req, res, _next) => {
    if (err instanceof HttpProblem) return sendProblem(res, err);
    const e = err as { type?: string; status?: number; message?: string };
    if (e.type === 'entity.too.large')
      return sendProblem(res, new HttpProblem(413, 'Request body too large', e.message ?? ''));
    if (e.type === 'entity.parse.failed') {
      return sendProblem(
        res,
        new HttpProblem(400, 'Malformed JSON', `the request body is not valid JSON: ${e.message}`),
      );
    }
    if (e.status && e.status >= 400 && e.status < 500) {
      return sendProblem(res, new HttpProblem(e.status, 'Bad request', e.message ?? ''));
    }
    log(err);
    sendProblem(res, new HttpProblem(500, 'Internal error', 'the server failed to handle this request; see its logs'));
  };
}

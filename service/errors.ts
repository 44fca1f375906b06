/**
 * The use cases' domain errors. Services throw them; the API maps each to one HTTP answer in one place
 * (api/problem.ts `problemOf`), and the CLI reads that answer. Bad requests the services refuse on their merits
 * are `SubmitRejected` (service/submit.ts, 409 or 422 with the field) or a backend's `BackendRejection` (422).
 */

/** The thing does not exist, or the caller may not see it (another team's). API: 404. */
export class NotFound extends Error {
  override readonly name: string = 'NotFound';
}

/** The request cannot be carried out in the current state, e.g. cancelling a finished execution. API: 409. */
export class Conflict extends Error {
  override readonly name: string = 'Conflict';
}

/** The caller may see the thing but not do this to it, e.g. apply another team's job. API: 403. */
export class Forbidden extends Error {
  override readonly name: string = 'Forbidden';
}

/** Something the request needs does not answer right now, e.g. no worker polls a workflow's task queue. API: 503. */
export class Unavailable extends Error {
  override readonly name: string = 'Unavailable';
}

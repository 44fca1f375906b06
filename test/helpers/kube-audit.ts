/**
 * Reads a test kube-apiserver's own audit log (kube.ts `audit: true`): one JSON event per line, at Metadata level.
 * Counting here is the API server's count, not the client's: every request appears once at ResponseComplete, and
 * long-running ones (watches) also at ResponseStarted, which is how a watch is counted while it is still open.
 */
import fs from 'node:fs';

export interface AuditEvent {
  /** RequestReceived (omitted by the policy), ResponseStarted, ResponseComplete or Panic. */
  stage: string;
  verb: string;
  userAgent?: string;
  requestURI: string;
  objectRef?: { resource?: string; subresource?: string; namespace?: string; name?: string; apiGroup?: string };
  responseStatus?: { code?: number };
  requestReceivedTimestamp: string;
  stageTimestamp: string;
}

/** Every event in the log so far (a line still being written is skipped). */
export function readAudit(file: string): AuditEvent[] {
  if (!fs.existsSync(file)) return [];
  const events: AuditEvent[] = [];
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    try {
      events.push(JSON.parse(line) as AuditEvent);
    } catch {
      // the last line, half-written
    }
  }
  return events;
}

export interface AuditFilter {
  /** User agent prefix (`spark-runner-`, `operator-standin`). */
  agent?: string;
  verbs?: string[];
  resource?: string;
  subresource?: string | null;
  /** Only requests received at or after / before these epoch ms. */
  from?: number;
  to?: number;
}

/**
 * The requests that match, each counted once: at ResponseStarted for watches (so an open watch counts), at
 * ResponseComplete for everything else.
 */
export function requests(events: AuditEvent[], filter: AuditFilter = {}): AuditEvent[] {
  return events.filter((e) => {
    if (e.verb === 'watch' ? e.stage !== 'ResponseStarted' : e.stage !== 'ResponseComplete') return false;
    if (filter.agent !== undefined && !(e.userAgent ?? '').startsWith(filter.agent)) return false;
    if (filter.verbs && !filter.verbs.includes(e.verb)) return false;
    if (filter.resource !== undefined && e.objectRef?.resource !== filter.resource) return false;
    if (filter.subresource !== undefined && (e.objectRef?.subresource ?? null) !== filter.subresource) return false;
    const at = Date.parse(e.requestReceivedTimestamp);
    if (filter.from !== undefined && at < filter.from) return false;
    if (filter.to !== undefined && at >= filter.to) return false;
    return true;
  });
}

export const WRITE_VERBS = ['create', 'update', 'patch', 'delete', 'deletecollection'];
export const READ_VERBS = ['get', 'list'];

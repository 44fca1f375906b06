/**
 * The product's own Temporal set-up, for a Temporal cluster (the dev server registers the same through its flags).
 * `spark-runner admin temporal-setup` runs it, as do the compose file's one-shot service, the Helm chart's hook
 * Job, and the worker at start with TEMPORAL_SETUP_ON_START=true:
 *
 * 1. the namespace: created when missing, with the configured retention; an existing one is left as it is;
 * 2. the search attributes every workflow start carries (SEARCH_ATTRIBUTES): listed, and only the missing ones
 *    added through the operator service, so a second run changes nothing and needs only read access;
 * 3. a wait until a visibility query over them is accepted, since a frontend's search-attribute and namespace
 *    caches may lag behind the change (workflow starts with them fail until then).
 *
 * A missing permission is one line naming the step and the access it needs. `checkTemporalSetup` is the read-only
 * half, for the start of the API and the worker: a server nobody set up is one line at start, not a failed submit.
 */
import { isGrpcServiceError, type Connection } from '@temporalio/client';
import { SearchAttributeType } from '@temporalio/common';
// The SDK's own proto enum conversion, which it exports for registering search attributes.
import { encodeSearchAttributeIndexedValueType } from '@temporalio/common/lib/search-attributes.js';
import { msToTs, tsToMs } from '@temporalio/common/lib/time.js';
import { DependencyError } from '../config/index.js';
import { GRPC, grpcCodeOf } from '../config/temporal.js';
import { SEARCH_ATTRIBUTES } from '../schema/vocabulary.js';

const DAY_MS = 86_400_000;

/** Where the set-up applies. */
export interface TemporalTarget {
  connection: Connection;
  /** For messages: the frontend address. */
  address: string;
  namespace: string;
}

export type SearchAttributeSpec = { name: string; type: SearchAttributeType };

export interface TemporalSetupOptions {
  /** Retention of closed workflows when the namespace is created. */
  retentionDays: number;
  /** Default: the ones Spark Runner's workflows set. */
  searchAttributes?: readonly SearchAttributeSpec[];
  /** How long to wait for a new namespace or attribute to be usable; default 2 minutes. */
  timeoutMs?: number;
}

export interface TemporalSetupResult {
  namespace: string;
  namespaceCreated: boolean;
  /** The namespace's retention as it now is (an existing namespace keeps its own). */
  retentionDays: number;
  added: string[];
  alreadyRegistered: string[];
}

function denied(err: unknown): boolean {
  const code = grpcCodeOf(err);
  return code === GRPC.PERMISSION_DENIED || code === GRPC.UNAUTHENTICATED || code === GRPC.UNIMPLEMENTED;
}

function detailOf(err: unknown): string {
  return isGrpcServiceError(err) ? err.details || err.message : err instanceof Error ? err.message : String(err);
}

/** The server refused a step to this identity (the message says which, and what it needs). */
export class TemporalSetupDenied extends DependencyError {
  override readonly name = 'TemporalSetupDenied';
  constructor(
    message: string,
    /** The step, e.g. `list the search attributes of namespace default`. */
    readonly step: string,
  ) {
    super(message);
  }
}

/** Runs one step; a refusal becomes one line naming the step and what the identity needs. */
async function step<T>(target: TemporalTarget, what: string, needs: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (denied(err)) {
      throw new TemporalSetupDenied(
        `this identity may not ${what} on Temporal at ${target.address} (${detailOf(err)}): it needs ${needs}`,
        what,
      );
    }
    throw err;
  }
}

/** The namespace's retention in days, or undefined when it does not exist. */
async function describeNamespace(target: TemporalTarget): Promise<number | undefined> {
  try {
    const described = await step(target, `read namespace ${target.namespace}`, 'read access to the namespace', () =>
      target.connection.workflowService.describeNamespace({ namespace: target.namespace }),
    );
    const ttl = described.config?.workflowExecutionRetentionTtl;
    return ttl ? tsToMs(ttl) / DAY_MS : 0;
  } catch (err) {
    if (grpcCodeOf(err) === GRPC.NOT_FOUND) return undefined;
    throw err;
  }
}

function typeName(indexedValueType: number | null | undefined): string {
  const type = Object.values(SearchAttributeType).find(
    (t) => encodeSearchAttributeIndexedValueType(t) === indexedValueType,
  );
  return type ?? `type ${indexedValueType}`;
}

/** Which of `wanted` are registered in the namespace, and which are missing; a clash of types is an error. */
async function registeredAttributes(
  target: TemporalTarget,
  wanted: readonly SearchAttributeSpec[],
): Promise<{ present: string[]; missing: SearchAttributeSpec[] }> {
  const { customAttributes } = await step(
    target,
    `list the search attributes of namespace ${target.namespace}`,
    'read access to the namespace',
    () => target.connection.operatorService.listSearchAttributes({ namespace: target.namespace }),
  );
  const present: string[] = [];
  const missing: SearchAttributeSpec[] = [];
  for (const attribute of wanted) {
    const found = customAttributes?.[attribute.name];
    if (found === undefined) {
      missing.push(attribute);
    } else if (found !== encodeSearchAttributeIndexedValueType(attribute.type)) {
      throw new DependencyError(
        `search attribute ${attribute.name} is registered in namespace ${target.namespace} as ${typeName(found)}, and Spark Runner needs ${attribute.type}: remove it, or use another namespace (TEMPORAL_NAMESPACE)`,
      );
    } else {
      present.push(attribute.name);
    }
  }
  return { present, missing };
}

/**
 * Retries `call` while it fails with what a lagging cache answers (the namespace or an attribute not known yet, a
 * frontend not ready), until `timeoutMs`; refusals and other errors are thrown at once.
 */
async function untilAccepted<T>(what: string, timeoutMs: number, call: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await call();
    } catch (err) {
      if (denied(err) || err instanceof DependencyError || !isGrpcServiceError(err)) throw err;
      if (Date.now() > deadline) {
        throw new DependencyError(`${what} not within ${Math.round(timeoutMs / 1000)} s: ${detailOf(err)}`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

/** A visibility query over every attribute; backquoted, since SQL visibility reads a bare `Trigger` as a keyword. */
function probeQuery(attributes: readonly SearchAttributeSpec[]): string {
  return attributes.map((a) => `\`${a.name}\` = 'x'`).join(' AND ');
}

/** Creates the namespace and registers the search attributes where missing; idempotent. */
export async function setupTemporal(
  target: TemporalTarget,
  options: TemporalSetupOptions,
): Promise<TemporalSetupResult> {
  const { namespace, address, connection } = target;
  const wanted = options.searchAttributes ?? SEARCH_ATTRIBUTES;
  const timeoutMs = options.timeoutMs ?? 120_000;
  let retentionDays = await describeNamespace(target);
  const namespaceCreated = retentionDays === undefined;
  if (namespaceCreated) {
    retentionDays = options.retentionDays;
    await step(
      target,
      `create namespace ${namespace}`,
      `admin rights on namespace ${namespace}, or create it yourself (on Temporal Cloud: in the Cloud UI or with tcld)`,
      () =>
        connection.workflowService.registerNamespace({
          namespace,
          workflowExecutionRetentionPeriod: msToTs(options.retentionDays * DAY_MS),
          description: 'Spark Runner executions',
        }),
    ).catch((err: unknown) => {
      // Another set-up created it first.
      if (grpcCodeOf(err) !== GRPC.ALREADY_EXISTS) throw err;
    });
  }
  // A new namespace reaches the frontend's cache a moment later: until then it is NOT_FOUND.
  const { present, missing } = await untilAccepted(`namespace ${namespace} on ${address} was usable`, timeoutMs, () =>
    registeredAttributes(target, wanted),
  );
  if (missing.length > 0) {
    const names = missing.map((a) => a.name).join(', ');
    const searchAttributes = Object.fromEntries(
      missing.map((a) => [a.name, encodeSearchAttributeIndexedValueType(a.type)!]),
    );
    await untilAccepted(`search attributes ${names} were added to namespace ${namespace}`, timeoutMs, () =>
      step(
        target,
        `add the search attributes ${names} to namespace ${namespace}`,
        `admin rights on namespace ${namespace} (on Temporal Cloud, add them in the Cloud UI or with tcld)`,
        () => connection.operatorService.addSearchAttributes({ namespace, searchAttributes }),
      ).catch((err: unknown) => {
        if (grpcCodeOf(err) !== GRPC.ALREADY_EXISTS) throw err;
      }),
    );
  }
  if (wanted.length > 0) {
    await untilAccepted(
      `a visibility query over ${wanted.map((a) => a.name).join(', ')} in namespace ${namespace} on ${address} was accepted`,
      timeoutMs,
      () => connection.workflowService.countWorkflowExecutions({ namespace, query: probeQuery(wanted) }),
    );
  }
  return {
    namespace,
    namespaceCreated,
    retentionDays: retentionDays!,
    added: missing.map((a) => a.name),
    alreadyRegistered: present,
  };
}

/**
 * Read-only: the namespace exists and the search attributes are registered with the right types. Otherwise one
 * line saying to run the set-up. An identity that may not list search attributes is not checked further.
 */
export async function checkTemporalSetup(
  target: TemporalTarget,
  searchAttributes: readonly SearchAttributeSpec[] = SEARCH_ATTRIBUTES,
): Promise<void> {
  const fix = 'run `spark-runner admin temporal-setup` (or start the worker with TEMPORAL_SETUP_ON_START=true)';
  if ((await describeNamespace(target)) === undefined) {
    throw new DependencyError(`namespace ${target.namespace} does not exist on Temporal at ${target.address}: ${fix}`);
  }
  if (searchAttributes.length === 0) return;
  let missing: SearchAttributeSpec[];
  try {
    ({ missing } = await registeredAttributes(target, searchAttributes));
  } catch (err) {
    if (err instanceof TemporalSetupDenied && err.step.startsWith('list ')) return;
    throw err;
  }
  if (missing.length > 0) {
    throw new DependencyError(
      `search attributes ${missing.map((a) => a.name).join(', ')} are not registered in namespace ${target.namespace} on Temporal at ${target.address}: ${fix}`,
    );
  }
}

/** The result for people, one line per part. */
export function describeSetup(result: TemporalSetupResult): string[] {
  const days = `retention ${result.retentionDays} d`;
  return [
    `namespace ${result.namespace}: ${result.namespaceCreated ? `created, ${days}` : `already there (${days}), left as it is`}`,
    `search attributes: ${[
      result.added.length > 0 ? `added ${result.added.join(', ')}` : '',
      result.alreadyRegistered.length > 0 ? `already registered ${result.alreadyRegistered.join(', ')}` : '',
    ]
      .filter(Boolean)
      .join('; ')}`,
  ];
}

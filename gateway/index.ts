/**
 * The Spark Gateway: the one place that decides where an attempt runs (backend, cluster, namespace, and why) and
 * records it once per attempt, so a retried submit never moves. Backends only drive the placement they are given;
 * the workflow and the API never choose a backend themselves. The rules are in placement.ts.
 *
 * The draw between clusters is seeded by (execution, attempt): a dry-run with an idempotency key derives the same
 * execution id as the submit that follows it, so with unchanged health and load it shows the same cluster.
 */
import type { NormalizedJobSpec } from '../schema/job-spec.js';
import type { BackendName } from '../schema/states.js';
import { BackendRejection, type AttemptRequest, type Backend, type Placement } from './backend.js';
import {
  assertPlaceable,
  decidePlacement,
  type ClusterView,
  type Inventory,
  type PlacementDecision,
} from './placement.js';
import { seededRandomFor } from './routing.js';

export type { Inventory, PlacementDecision } from './placement.js';

/** Where placements are recorded (the `placements` table): first writer wins. */
export interface PlacementLog {
  recorded(executionId: string, attempt: number): Promise<Placement | undefined>;
  /** Records `placement` unless one exists; returns the one that stands. */
  record(executionId: string, attempt: number, placement: Placement): Promise<Placement>;
}

export interface SparkGatewayOptions {
  /** The submitting side of each backend this process can reach. */
  backends: Partial<Record<BackendName, Backend>>;
  /** What is configured besides the backends themselves: clusters, EMR, DEFAULT_BACKEND. */
  inventory: Omit<Inventory, 'backends'>;
  /** The clusters' health and load at this moment (the worker's monitor, or the health it recorded). */
  view: () => Promise<ClusterView>;
  /** Absent in a process that only previews placements (the API). */
  placements?: PlacementLog;
}

export class SparkGateway {
  private readonly backends: Partial<Record<BackendName, Backend>>;
  readonly inventory: Inventory;

  constructor(private readonly options: SparkGatewayOptions) {
    this.backends = options.backends;
    const unsupported = Object.fromEntries(
      Object.entries(options.backends).flatMap(([name, b]) =>
        b.unsupported ? [[name, (spec: NormalizedJobSpec) => b.unsupported!(spec)]] : [],
      ),
    );
    this.inventory = {
      ...options.inventory,
      backends: new Set(Object.keys(options.backends) as BackendName[]),
      unsupported,
    };
  }

  /** Backends this gateway can place on. */
  get available(): BackendName[] {
    return [...this.inventory.backends];
  }

  /** Throws `BackendRejection` when no placement could ever take this job here (a 422 at submit). */
  assertPlaceable(spec: NormalizedJobSpec): void {
    assertPlaceable(spec, this.inventory);
  }

  /** Where the attempt would go now, without recording it (dry-run). A recorded placement stands. */
  async preview(attempt: AttemptRequest): Promise<PlacementDecision> {
    const recorded = await this.options.placements?.recorded(attempt.executionId, attempt.attempt);
    if (recorded) return { kind: 'placed', placement: recorded };
    return this.decide(attempt);
  }

  /** Places the attempt: the recorded placement if there is one, else a new decision, recorded first-writer-wins. */
  async place(attempt: AttemptRequest): Promise<PlacementDecision> {
    const log = this.options.placements;
    if (!log) throw new Error('this process does not place attempts');
    const recorded = await log.recorded(attempt.executionId, attempt.attempt);
    if (recorded) return { kind: 'placed', placement: recorded };
    const decision = await this.decide(attempt);
    if (decision.kind !== 'placed') return decision;
    return { kind: 'placed', placement: await log.record(attempt.executionId, attempt.attempt, decision.placement) };
  }

  /** The submitting side of a backend; a placement on one this process lacks is a permanent rejection. */
  backend(name: string): Backend {
    const backend = this.backends[name as BackendName];
    if (!backend) throw new BackendRejection(`backend "${name}" is not configured here`);
    return backend;
  }

  /** The payload a submit on this placement would send. */
  describe(attempt: AttemptRequest, placement: Placement): unknown {
    return this.backend(placement.backend).describeSubmission(attempt, placement);
  }

  private async decide(attempt: AttemptRequest): Promise<PlacementDecision> {
    this.assertPlaceable(attempt.spec);
    const needsClusters = this.inventory.kubernetes !== undefined;
    const view = needsClusters ? await this.options.view() : { health: {}, load: {} };
    return decidePlacement(attempt, this.inventory, view, seededRandomFor(`${attempt.executionId}:${attempt.attempt}`));
  }
}

/**
 * Where an attempt runs: the Spark Gateway's placement rules, as pure functions of the job, the inventory (what
 * this deployment has configured), the clusters' latest health and load, and a random source. The gateway
 * (index.ts) feeds them and records the answer once per attempt.
 *
 * | spec.backend | rule                                                                                           |
 * |--------------|------------------------------------------------------------------------------------------------|
 * | auto         | `DEFAULT_BACKEND` when set (then as if named). Else, with Kubernetes clusters or EMR configured: |
 * |              | a healthy cluster (routing.ts: preferred region first, by weight × free capacity, then other    |
 * |              | regions), else EMR when it can take the job, else none for now (the execution waits). Local     |
 * |              | Spark only when neither is configured: local is never a fallback for a cluster job.             |
 * | kubernetes   | a healthy cluster, else none for now. Rejected when no cluster is configured.                   |
 * | emr          | EMR. Rejected when EMR is not configured or cannot take the job (below).                        |
 * | local, sim   | that backend. Rejected when it is not configured here.                                          |
 *
 * EMR takes a job only when it can reach every application file (`s3://`, or `local://` inside the image) and
 * has a release label for its Spark version. A rejection is permanent (`BackendRejection`: a 422 at submit); "none
 * for now" is not, and carries the reason the execution shows while it waits.
 */
import type { NormalizedJobSpec } from '../schema/job-spec.js';
import type { BackendName } from '../schema/states.js';
import { BackendRejection, type AttemptRequest, type Placement, type Unsupported } from './backend.js';
import type { ClusterConfig, EmrConfig } from './clusters.js';
import { chooseTarget, type RoutingInput } from './routing.js';

/** What this deployment has configured, fixed at start from config and the clusters file. */
export interface Inventory {
  /** Backends with a submitting side in this process (their names). */
  backends: ReadonlySet<BackendName>;
  kubernetes?: {
    clusters: readonly ClusterConfig[];
    preferredRegion?: string | undefined;
    /** team -> domain; the namespace is `<cluster's namespacePrefix><domain>`. */
    teamDomains: Readonly<Record<string, string>>;
    /** Domain of a team missing from `teamDomains`. */
    defaultDomain: string;
  };
  emr?: EmrConfig;
  /** `DEFAULT_BACKEND`: what `auto` means when set. */
  defaultBackend?: BackendName;
  /** Each backend's own "cannot run this" (a Spark version it lacks, say): a rejection, not a wait. */
  unsupported?: Partial<Record<BackendName, (spec: NormalizedJobSpec) => Unsupported | undefined>>;
}

/** The moment's view of the clusters, read when an attempt is placed. */
export type ClusterView = Pick<RoutingInput, 'health' | 'load'>;

export type PlacementDecision = { kind: 'placed'; placement: Placement } | { kind: 'unavailable'; reason: string };

/** Why EMR cannot take this job, or undefined when it can. */
export function emrCannotTake(spec: NormalizedJobSpec, emr: EmrConfig): string | undefined {
  const unreachable = applicationFiles(spec).filter((f) => !/^(s3|local):\/\//.test(f));
  if (unreachable.length > 0) {
    return `EMR cannot reach ${unreachable.join(', ')}: it runs only s3:// files, or local:// files inside its image`;
  }
  const minor = spec.engineVersion.split('.').slice(0, 2).join('.');
  if (!Object.hasOwn(emr.releaseLabels, minor)) {
    const known = Object.keys(emr.releaseLabels).join(', ') || 'none';
    return `EMR has no release label for Spark ${minor} (configured: ${known})`;
  }
  return undefined;
}

function applicationFiles(spec: NormalizedJobSpec): string[] {
  const app = spec.application;
  switch (app.type) {
    case 'python':
      return [app.file, ...app.pyFiles];
    case 'jvm':
      return [app.jar];
    case 'coreEtl':
      return [app.jarPath];
  }
}

/** The backend a spec asks for, with `auto` resolved through DEFAULT_BACKEND when that is set. */
function requested(spec: NormalizedJobSpec, inventory: Inventory): NormalizedJobSpec['backend'] {
  return spec.backend === 'auto' && inventory.defaultBackend ? inventory.defaultBackend : spec.backend;
}

function configuredList(inventory: Inventory): string {
  return [...inventory.backends].join(', ') || 'none';
}

/**
 * Throws `BackendRejection` when no placement could ever take this job here: a backend this deployment does not
 * have, or EMR asked for a job it cannot run. Independent of health, so a job that must wait is not rejected.
 */
export function assertPlaceable(spec: NormalizedJobSpec, inventory: Inventory): void {
  const name = requested(spec, inventory);
  if (name === 'auto') {
    if (!inventory.kubernetes && !inventory.emr && !inventory.backends.has('local')) {
      throw new BackendRejection('no backend is configured here for backend "auto"');
    }
    // Where `auto` goes first: the clusters when there are any, local Spark when nothing else is configured.
    const first = inventory.kubernetes ? 'kubernetes' : inventory.emr ? undefined : 'local';
    if (first) assertSupported(spec, inventory, first);
    return;
  }
  if (!inventory.backends.has(name)) {
    throw new BackendRejection(`backend "${name}" is not configured here (configured: ${configuredList(inventory)})`);
  }
  if (name === 'emr') {
    const why = emrCannotTake(spec, inventory.emr!);
    if (why) throw new BackendRejection(why);
  }
  assertSupported(spec, inventory, name);
}

function assertSupported(spec: NormalizedJobSpec, inventory: Inventory, name: BackendName): void {
  const why = inventory.unsupported?.[name]?.(spec);
  if (why) throw new BackendRejection(why.message, why.field);
}

/** The team's namespace on a cluster: `<namespacePrefix><domain>`, from configuration only. */
export function namespaceForTeam(
  team: string,
  kubernetes: NonNullable<Inventory['kubernetes']>,
  prefix = 'sjns-',
): string {
  const domain = Object.hasOwn(kubernetes.teamDomains, team) ? kubernetes.teamDomains[team]! : kubernetes.defaultDomain;
  const safe = domain
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '');
  if (!safe) throw new BackendRejection(`team "${team}" maps to domain "${domain}", which gives no valid namespace`);
  return `${prefix}${safe}`.slice(0, 63).replace(/-+$/, '');
}

/**
 * Decides where an attempt runs now (see the table at the top). Throws `BackendRejection` for a job that can
 * never be placed here; returns `unavailable` with the reason when it must wait.
 */
export function decidePlacement(
  attempt: AttemptRequest,
  inventory: Inventory,
  view: ClusterView,
  random: () => number,
): PlacementDecision {
  assertPlaceable(attempt.spec, inventory);
  const name = requested(attempt.spec, inventory);
  const placed = (placement: Placement): PlacementDecision => ({ kind: 'placed', placement });
  switch (name) {
    case 'local':
    case 'sim':
      return placed({ backend: name, cluster: name, reason: `backend "${name}" requested` });
    case 'emr':
      return placed(emrPlacement(inventory.emr!, 'backend "emr" requested'));
    case 'kubernetes':
      return onClusters(attempt, inventory, view, random, 'the job asks for backend "kubernetes"');
    case 'auto':
      if (!inventory.kubernetes && !inventory.emr) {
        return placed({ backend: 'local', cluster: 'local', reason: 'local Spark: no cluster or EMR is configured' });
      }
      return onClusters(
        attempt,
        inventory,
        view,
        random,
        inventory.emr ? emrCannotTake(attempt.spec, inventory.emr) : 'EMR is not configured as a fallback',
      );
  }
}

/** routing.ts's own ending for "no cluster and no EMR", replaced here by the precise reason EMR was skipped. */
const NO_EMR_SUFFIX = ', and EMR is not configured as a fallback';

/** Kubernetes first; then EMR unless `emrSkipped` says why not; else none for now, with the reason. */
function onClusters(
  attempt: AttemptRequest,
  inventory: Inventory,
  view: ClusterView,
  random: () => number,
  emrSkipped: string | undefined,
): PlacementDecision {
  const kubernetes = inventory.kubernetes;
  const decision = chooseTarget({
    clusters: kubernetes?.clusters ?? [],
    health: view.health,
    load: view.load,
    preferredRegion: kubernetes?.preferredRegion,
    emrConfigured: emrSkipped === undefined,
    random,
  });
  switch (decision.kind) {
    case 'kubernetes': {
      const cluster = kubernetes!.clusters.find((c) => c.name === decision.cluster)!;
      return {
        kind: 'placed',
        placement: {
          backend: 'kubernetes',
          cluster: cluster.name,
          namespace: namespaceForTeam(attempt.team, kubernetes!, cluster.namespacePrefix),
          reason: decision.reason,
        },
      };
    }
    case 'emr':
      return { kind: 'placed', placement: emrPlacement(inventory.emr!, decision.reason) };
    case 'none':
      return { kind: 'unavailable', reason: `${decision.reason.replace(NO_EMR_SUFFIX, '')}; ${emrSkipped}` };
  }
}

function emrPlacement(emr: EmrConfig, reason: string): Placement {
  return { backend: 'emr', cluster: emr.virtualClusterId, reason };
}

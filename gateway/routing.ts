/**
 * Where a new attempt runs: a pure function of the cluster inventory, their latest health, their load and a
 * random source, so every decision can be replayed and tested as data.
 *
 * Rules, in order:
 *  1. A cluster qualifies when it is healthy, has spare capacity (load < capacity) and a weight above 0.
 *     A cluster with no health entry is treated as unhealthy.
 *  2. Qualifying clusters in `preferredRegion` are tried first; only when none qualifies there do the clusters
 *     of all other regions compete (regional failover). Without a preferred region every region is equal.
 *  3. Within the chosen group, a cluster is drawn with probability proportional to its score
 *
 *         score = weight × (capacity − load) / capacity
 *
 *     i.e. its configured weight scaled by the fraction of its capacity still free. An idle cluster competes
 *     with its full weight, a half-full one with half of it, so load spreads without starving the big ones.
 *     The draw walks the clusters in configuration order and picks the first whose cumulative score exceeds
 *     `random() × total`, which makes the result deterministic for a given `random`.
 *  4. When no Kubernetes cluster qualifies: EMR when it is configured, else `none`. Both carry a reason that
 *     lists every cluster and why it did not qualify.
 *
 * A job that insists on Kubernetes (its spec's `backend: kubernetes`) is routed with `emrConfigured: false`.
 */

/** The fields routing reads from a cluster's configuration (`ClusterConfig` satisfies it). */
export interface RoutableCluster {
  name: string;
  region: string;
  weight: number;
  capacity: number;
}

export interface RoutingInput {
  clusters: readonly RoutableCluster[];
  /** Latest probe result per cluster name; a missing entry counts as unhealthy. */
  health: Readonly<Record<string, { healthy: boolean; reason?: string | undefined }>>;
  /** Running executions per cluster name; a missing entry counts as 0. */
  load: Readonly<Record<string, number>>;
  preferredRegion?: string | undefined;
  /** Whether EMR may take the attempt when no Kubernetes cluster qualifies. */
  emrConfigured: boolean;
  /** Uniform in [0, 1), like `Math.random`. */
  random: () => number;
}

export type RoutingDecision =
  | { kind: 'kubernetes'; cluster: string; region: string; reason: string }
  | { kind: 'emr'; reason: string }
  | { kind: 'none'; reason: string };

interface Candidate {
  cluster: RoutableCluster;
  load: number;
  score: number;
}

/** Why a cluster does not qualify, or undefined when it does. */
function disqualification(input: RoutingInput, cluster: RoutableCluster, load: number): string | undefined {
  const health = input.health[cluster.name];
  if (!health) return 'no health result yet';
  if (!health.healthy) return `unhealthy: ${health.reason ?? 'no reason given'}`;
  if (load >= cluster.capacity) return `full (${load}/${cluster.capacity} running)`;
  if (cluster.weight <= 0) return 'drained (weight 0)';
  return undefined;
}

/** Score-weighted draw; `candidates` is non-empty and every score is positive. */
function draw(candidates: readonly Candidate[], random: () => number): Candidate {
  const total = candidates.reduce((sum, c) => sum + c.score, 0);
  const target = random() * total;
  let cumulative = 0;
  for (const candidate of candidates) {
    cumulative += candidate.score;
    if (target < cumulative) return candidate;
  }
  // Only reachable through floating-point rounding when random() is just below 1.
  return candidates[candidates.length - 1]!;
}

function describeChoice(chosen: Candidate, group: readonly Candidate[]): string {
  const { cluster, load } = chosen;
  return `cluster ${cluster.name} (weight ${cluster.weight}, ${load}/${cluster.capacity} running) drawn from ${group.length} qualifying cluster(s) in ${describeRegions(group)}`;
}

function describeRegions(group: readonly Candidate[]): string {
  const regions = [...new Set(group.map((c) => c.cluster.region))];
  return regions.length === 1 ? `region ${regions[0]}` : `regions ${regions.join(', ')}`;
}

function listRejected(rejected: ReadonlyArray<{ cluster: RoutableCluster; why: string }>): string {
  return rejected.map(({ cluster, why }) => `${cluster.name} [${cluster.region}]: ${why}`).join('; ');
}

/** Chooses the target of a new attempt; see the module comment for the rules and the formula. */
export function chooseTarget(input: RoutingInput): RoutingDecision {
  const qualifying: Candidate[] = [];
  const rejected: Array<{ cluster: RoutableCluster; why: string }> = [];
  for (const cluster of input.clusters) {
    const load = Math.max(0, input.load[cluster.name] ?? 0);
    const why = disqualification(input, cluster, load);
    if (why !== undefined) {
      rejected.push({ cluster, why });
      continue;
    }
    qualifying.push({ cluster, load, score: (cluster.weight * (cluster.capacity - load)) / cluster.capacity });
  }

  const preferred = input.preferredRegion;
  if (preferred !== undefined) {
    const local = qualifying.filter((c) => c.cluster.region === preferred);
    if (local.length > 0) {
      const chosen = draw(local, input.random);
      return {
        kind: 'kubernetes',
        cluster: chosen.cluster.name,
        region: chosen.cluster.region,
        reason: `${describeChoice(chosen, local)} (preferred region)`,
      };
    }
  }
  if (qualifying.length > 0) {
    const chosen = draw(qualifying, input.random);
    const failover =
      preferred === undefined
        ? ''
        : ` (failover: no cluster qualifies in preferred region ${preferred}: ${listRejected(rejected.filter((r) => r.cluster.region === preferred)) || 'none is configured there'})`;
    return {
      kind: 'kubernetes',
      cluster: chosen.cluster.name,
      region: chosen.cluster.region,
      reason: `${describeChoice(chosen, qualifying)}${failover}`,
    };
  }

  const why =
    input.clusters.length === 0
      ? 'no Kubernetes cluster is configured'
      : `no Kubernetes cluster is healthy with spare capacity (${listRejected(rejected)})`;
  if (input.emrConfigured) return { kind: 'emr', reason: `${why}; falling back to EMR` };
  return { kind: 'none', reason: `${why}, and EMR is not configured as a fallback` };
}

/**
 * A small seeded PRNG (mulberry32) for reproducible routing in tests and simulations; production passes
 * `Math.random`.
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A PRNG seeded from a string (FNV-1a), e.g. `seededRandomFor(`${executionId}:${attempt}`)`: a retried submit of
 * the same attempt then draws the same number, so with unchanged health and load it picks the same cluster.
 */
export function seededRandomFor(key: string): () => number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    hash ^= key.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return seededRandom(hash);
}

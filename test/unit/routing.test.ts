/**
 * The gateway's routing decision as data: weighted draws by weight × free capacity, capacity limits, the
 * preferred region with failover, the EMR fallback, and a clear reason when nothing can take the attempt.
 */
import { describe, expect, it } from 'vitest';
import {
  chooseTarget,
  seededRandom,
  seededRandomFor,
  type RoutableCluster,
  type RoutingInput,
} from '../../gateway/routing.js';

const healthy = { healthy: true };

function input(overrides: Partial<RoutingInput> & Pick<RoutingInput, 'clusters'>): RoutingInput {
  const health = Object.fromEntries(overrides.clusters.map((c) => [c.name, healthy]));
  return { health, load: {}, emrConfigured: false, random: seededRandom(42), ...overrides };
}

/** Counts which cluster each of `n` decisions picks, with one seeded random source across all draws. */
function tally(base: RoutingInput, n: number): Record<string, number> {
  const counts: Record<string, number> = {};
  const random = seededRandom(7);
  for (let i = 0; i < n; i++) {
    const decision = chooseTarget({ ...base, random });
    const key = decision.kind === 'kubernetes' ? decision.cluster : decision.kind;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

const east = (name: string, weight: number, capacity = 100): RoutableCluster => ({
  name,
  region: 'us-east-1',
  weight,
  capacity,
});
const west = (name: string, weight: number, capacity = 100): RoutableCluster => ({
  name,
  region: 'us-west-2',
  weight,
  capacity,
});

describe('chooseTarget', () => {
  it('spreads 10,000 idle-cluster choices in proportion to weight (3:1:1), within 2 percentage points', () => {
    const counts = tally(input({ clusters: [east('a', 3), east('b', 1), east('c', 1)] }), 10_000);
    expect(counts.a! / 10_000).toBeCloseTo(0.6, 1);
    expect(Math.abs(counts.a! / 10_000 - 0.6)).toBeLessThan(0.02);
    expect(Math.abs(counts.b! / 10_000 - 0.2)).toBeLessThan(0.02);
    expect(Math.abs(counts.c! / 10_000 - 0.2)).toBeLessThan(0.02);
  });

  it('scales each weight by the free capacity fraction: equal weights, 75% vs 0% loaded gives 1:4', () => {
    const clusters = [east('busy', 1, 100), east('idle', 1, 100)];
    const counts = tally(input({ clusters, load: { busy: 75 } }), 10_000);
    // score(busy) = 1 × 25/100 = 0.25, score(idle) = 1 × 100/100 = 1 → busy gets 0.25 / 1.25 = 20%.
    expect(Math.abs(counts.busy! / 10_000 - 0.2)).toBeLessThan(0.02);
  });

  it('is deterministic for a given random source', () => {
    const clusters = [east('a', 1), east('b', 1)];
    expect(chooseTarget(input({ clusters, random: () => 0.49 }))).toMatchObject({ cluster: 'a' });
    expect(chooseTarget(input({ clusters, random: () => 0.51 }))).toMatchObject({ cluster: 'b' });
    expect(chooseTarget(input({ clusters, random: () => 0.999999999 }))).toMatchObject({ cluster: 'b' });
  });

  it('draws the same cluster again for the same execution attempt, and spreads different attempts', () => {
    const clusters = [east('a', 1), east('b', 1), east('c', 1)];
    const pick = (key: string) => chooseTarget(input({ clusters, random: seededRandomFor(key) }));
    expect(pick('exec-1:1')).toEqual(pick('exec-1:1'));
    const picked = new Set(Array.from({ length: 50 }, (_, i) => (pick(`exec-${i}:1`) as { cluster: string }).cluster));
    expect([...picked].sort()).toEqual(['a', 'b', 'c']);
  });

  it('never picks a cluster at capacity or a drained (weight 0) one', () => {
    const clusters = [east('full', 5, 10), east('drained', 0), east('open', 1, 10)];
    const counts = tally(input({ clusters, load: { full: 10, open: 9 } }), 1000);
    expect(counts).toEqual({ open: 1000 });
  });

  it('skips unhealthy clusters and clusters without a health result', () => {
    const clusters = [east('sick', 10), east('unknown', 10), east('fine', 1)];
    const counts = tally(
      input({ clusters, health: { sick: { healthy: false, reason: 'API unreachable' }, fine: healthy } }),
      1000,
    );
    expect(counts).toEqual({ fine: 1000 });
  });

  it('keeps every choice in the preferred region while a cluster there qualifies', () => {
    const clusters = [west('w1', 100), east('e1', 1), west('w2', 100)];
    const counts = tally(input({ clusters, preferredRegion: 'us-east-1' }), 1000);
    expect(counts).toEqual({ e1: 1000 });
    const decision = chooseTarget(input({ clusters, preferredRegion: 'us-east-1' }));
    expect(decision).toMatchObject({ kind: 'kubernetes', cluster: 'e1', region: 'us-east-1' });
    expect(decision.reason).toMatch(/preferred region/);
  });

  it('fails over to the other regions, by weight, when nothing qualifies in the preferred one', () => {
    const clusters = [east('e1', 1, 10), east('e2', 1), west('w1', 3), west('w2', 1)];
    const base = input({
      clusters,
      preferredRegion: 'us-east-1',
      load: { e1: 10 },
      health: { e1: healthy, e2: { healthy: false, reason: 'CRD missing' }, w1: healthy, w2: healthy },
    });
    const counts = tally(base, 10_000);
    expect(Object.keys(counts).sort()).toEqual(['w1', 'w2']);
    expect(Math.abs(counts.w1! / 10_000 - 0.75)).toBeLessThan(0.02);
    const decision = chooseTarget(base);
    expect(decision.kind).toBe('kubernetes');
    expect(decision.reason).toMatch(/failover: no cluster qualifies in preferred region us-east-1/);
    expect(decision.reason).toMatch(/e1 \[us-east-1\]: full \(10\/10 running\)/);
    expect(decision.reason).toMatch(/e2 \[us-east-1\]: unhealthy: CRD missing/);
  });

  it('fails over when the preferred region has no clusters at all', () => {
    const decision = chooseTarget(input({ clusters: [west('w1', 1)], preferredRegion: 'eu-west-1' }));
    expect(decision).toMatchObject({ kind: 'kubernetes', cluster: 'w1', region: 'us-west-2' });
    expect(decision.reason).toMatch(/none is configured there/);
  });

  it('falls back to EMR when no Kubernetes cluster qualifies and EMR is configured', () => {
    const clusters = [east('e1', 1, 2), west('w1', 1)];
    const decision = chooseTarget(
      input({
        clusters,
        load: { e1: 2 },
        health: { e1: healthy, w1: { healthy: false, reason: 'API server unreachable' } },
        emrConfigured: true,
      }),
    );
    expect(decision.kind).toBe('emr');
    expect(decision.reason).toMatch(/no Kubernetes cluster is healthy with spare capacity/);
    expect(decision.reason).toMatch(/falling back to EMR/);
  });

  it("answers 'none' with every cluster's reason when EMR is not configured either", () => {
    const clusters = [east('e1', 1, 2), west('w1', 1)];
    const decision = chooseTarget(
      input({ clusters, load: { e1: 2 }, health: { e1: healthy, w1: { healthy: false, reason: 'timed out' } } }),
    );
    expect(decision).toEqual({
      kind: 'none',
      reason:
        'no Kubernetes cluster is healthy with spare capacity (e1 [us-east-1]: full (2/2 running); ' +
        'w1 [us-west-2]: unhealthy: timed out), and EMR is not configured as a fallback',
    });
  });

  it("answers 'none' or EMR when no cluster is configured at all", () => {
    expect(chooseTarget(input({ clusters: [] }))).toEqual({
      kind: 'none',
      reason: 'no Kubernetes cluster is configured, and EMR is not configured as a fallback',
    });
    expect(chooseTarget(input({ clusters: [], emrConfigured: true })).kind).toBe('emr');
  });
});

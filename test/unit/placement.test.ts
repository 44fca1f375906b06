/**
 * The Spark Gateway's placement rules (gateway/placement.ts) as data: which backend, cluster and namespace an
 * attempt gets for each `backend` a job can ask for, what is rejected outright, and what must wait.
 */
import { describe, expect, it } from 'vitest';
import { BackendRejection, type AttemptRequest } from '../../gateway/backend.js';
import { ClusterConfigSchema, EmrConfigSchema } from '../../gateway/clusters.js';
import { decidePlacement, namespaceForTeam, type Inventory } from '../../gateway/placement.js';
import { seededRandom } from '../../gateway/routing.js';
import { JobSpec, type JobSpecInput } from '../../schema/job-spec.js';
import type { BackendName } from '../../schema/states.js';

const healthy = { healthy: true };
const down = { healthy: false, reason: 'API server unreachable' };
const clusters = [
  ClusterConfigSchema.parse({ name: 'east', region: 'us-east-1', capacity: 10, kubeconfig: '/k/east' }),
  ClusterConfigSchema.parse({ name: 'west', region: 'us-west-2', capacity: 10, kubeconfig: '/k/west' }),
];
const emr = EmrConfigSchema.parse({
  region: 'us-east-1',
  virtualClusterId: 'vc-1',
  executionRoleArn: 'arn:aws:iam::123456789012:role/jobs',
  releaseLabels: { '3.5': 'emr-7.9.0-latest' },
  logUri: 's3://logs/spark-runner/',
});
const kubernetes = {
  clusters,
  preferredRegion: 'us-east-1',
  teamDomains: { payments: 'fin' },
  defaultDomain: 'shared',
};

function inventory(backends: BackendName[], extra: Omit<Inventory, 'backends'> = {}): Inventory {
  return { backends: new Set(backends), ...extra };
}

function attempt(overrides: Partial<JobSpecInput> = {}, team = 'payments'): AttemptRequest {
  const spec = JobSpec.parse({
    name: 'agg',
    engineVersion: '3.5',
    application: { type: 'python', file: 's3://bucket/agg.py' },
    ...overrides,
  });
  return { executionId: 'e-1', attempt: 1, team, jobPath: `${team}/agg`, spec };
}

const place = (a: AttemptRequest, inv: Inventory, health: Record<string, { healthy: boolean }>) =>
  decidePlacement(a, inv, { health, load: {} }, seededRandom(1));

describe('placement', () => {
  it('runs an auto job on local Spark when no cluster or EMR is configured (npm run dev)', () => {
    expect(place(attempt(), inventory(['local']), {})).toEqual({
      kind: 'placed',
      placement: { backend: 'local', cluster: 'local', reason: 'local Spark: no cluster or EMR is configured' },
    });
  });

  it('places an auto job on a healthy cluster of the preferred region, in the namespace of its team domain', () => {
    const decision = place(attempt(), inventory(['kubernetes', 'local'], { kubernetes }), {
      east: healthy,
      west: healthy,
    });
    expect(decision).toMatchObject({
      kind: 'placed',
      placement: { backend: 'kubernetes', cluster: 'east', namespace: 'sjns-fin' },
    });
  });

  it('falls back to EMR when no cluster is healthy and EMR can reach the files; never to local Spark', () => {
    const decision = place(attempt(), inventory(['kubernetes', 'emr', 'local'], { kubernetes, emr }), {
      east: down,
      west: down,
    });
    expect(decision).toMatchObject({ kind: 'placed', placement: { backend: 'emr', cluster: 'vc-1' } });
    if (decision.kind === 'placed') expect(decision.placement.reason).toMatch(/falling back to EMR/);
  });

  it('makes an auto job wait, saying why EMR was skipped, when EMR cannot reach a local file', () => {
    const decision = place(
      attempt({ application: { type: 'python', file: 'examples/pi.py' } }),
      inventory(['kubernetes', 'emr', 'local'], { kubernetes, emr }),
      { east: down, west: down },
    );
    expect(decision.kind).toBe('unavailable');
    if (decision.kind === 'unavailable') {
      expect(decision.reason).toMatch(/no Kubernetes cluster is healthy/);
      expect(decision.reason).toMatch(/EMR cannot reach examples\/pi\.py/);
    }
  });

  it('makes an explicit Kubernetes job wait for a cluster even when EMR could take it', () => {
    const decision = place(attempt({ backend: 'kubernetes' }), inventory(['kubernetes', 'emr'], { kubernetes, emr }), {
      east: down,
      west: down,
    });
    expect(decision).toMatchObject({ kind: 'unavailable' });
    if (decision.kind === 'unavailable') expect(decision.reason).toMatch(/asks for backend "kubernetes"/);
  });

  it('sends an explicit EMR job to EMR even with healthy clusters', () => {
    const decision = place(attempt({ backend: 'emr' }), inventory(['kubernetes', 'emr'], { kubernetes, emr }), {
      east: healthy,
    });
    expect(decision).toEqual({
      kind: 'placed',
      placement: { backend: 'emr', cluster: 'vc-1', reason: 'backend "emr" requested' },
    });
  });

  it.each([
    ['emr', inventory(['local']), /backend "emr" is not configured here \(configured: local\)/],
    ['kubernetes', inventory(['local']), /backend "kubernetes" is not configured here/],
    ['sim', inventory(['local']), /backend "sim" is not configured here/],
  ] as const)('rejects backend %s when this deployment does not have it', (backend, inv, message) => {
    expect(() => place(attempt({ backend }), inv, {})).toThrow(BackendRejection);
    expect(() => place(attempt({ backend }), inv, {})).toThrow(message);
  });

  it('rejects an explicit EMR job whose files EMR cannot reach, or whose Spark version it has no release for', () => {
    const inv = inventory(['emr'], { emr });
    expect(() =>
      place(attempt({ backend: 'emr', application: { type: 'jvm', mainClass: 'A', jar: '/tmp/a.jar' } }), inv, {}),
    ).toThrow(/EMR cannot reach \/tmp\/a\.jar: it runs only s3:\/\/ files, or local:\/\/ files inside its image/);
    expect(() => place(attempt({ backend: 'emr', engineVersion: '4.0' }), inv, {})).toThrow(
      /EMR has no release label for Spark 4\.0 \(configured: 3\.5\)/,
    );
    expect(
      place(attempt({ backend: 'emr', application: { type: 'python', file: 'local:///opt/pi.py' } }), inv, {}).kind,
    ).toBe('placed');
  });

  it('reads backend auto as DEFAULT_BACKEND when that is set', () => {
    expect(place(attempt(), inventory(['sim', 'local'], { defaultBackend: 'sim' }), {})).toMatchObject({
      placement: { backend: 'sim' },
    });
  });

  it("takes the namespace from the team's configured domain and the cluster's prefix, never from the request", () => {
    expect(namespaceForTeam('payments', kubernetes)).toBe('sjns-fin');
    expect(namespaceForTeam('unknown', kubernetes)).toBe('sjns-shared');
    expect(namespaceForTeam('__proto__', kubernetes)).toBe('sjns-shared');
    expect(namespaceForTeam('payments', kubernetes, 'tenant-')).toBe('tenant-fin');
  });
});

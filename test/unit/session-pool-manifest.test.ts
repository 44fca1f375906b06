/** `kind: SessionPool` documents in DCP manifests (dcp/manifest.ts): parsed beside SparkJobs, errors located. */
import { describe, expect, it } from 'vitest';
import { ManifestError, parseManifest, parseManifestFile } from '../../dcp/manifest.js';

const pool = (spec: string, name = 'notebooks') =>
  `apiVersion: dcp.pedregal.doordash.com/v1\nkind: SessionPool\nmetadata:\n  name: ${name}\n  team: data-infra\nspec:\n${spec}`;
const job = `apiVersion: dcp.pedregal.doordash.com/v1
kind: SparkJob
metadata:
  name: pi
  team: data-infra
spec:
  engineVersion: "4.0"
  application: { type: python, file: pi.py }
`;

function issuesOf(text: string) {
  try {
    parseManifestFile(text, 'pools.yaml');
  } catch (err) {
    if (err instanceof ManifestError) return err.issues;
    throw err;
  }
  throw new Error('expected a ManifestError');
}

describe('SessionPool manifests', () => {
  it('parses a pool, named <team>.<name>, with its size, version, idle timeout and driver memory', () => {
    const { jobs, pools } = parseManifestFile(
      pool('  size: 2\n  sparkVersion: "4.0"\n  idleTimeoutSeconds: 900\n  driverMemory: 2g\n'),
    );
    expect(jobs).toEqual([]);
    expect(pools).toEqual([
      {
        source: { file: '<manifest>', line: 1 },
        team: 'data-infra',
        name: 'notebooks',
        pool: 'data-infra.notebooks',
        size: 2,
        sparkVersion: '4.0',
        idleTimeoutS: 900,
        driverMemoryMb: 2048,
        backend: 'auto',
      },
    ]);
  });

  it('takes pools and jobs from one file, and parseManifest still answers the jobs alone', () => {
    const text = `${job}---\n${pool('  size: 1\n')}`;
    expect(parseManifestFile(text).pools.map((p) => p.pool)).toEqual(['data-infra.notebooks']);
    expect(parseManifest(text).map((j) => j.jobPath)).toEqual(['data-infra/pi']);
  });

  it('reports a bad field with its line and column, and the same pool twice', () => {
    const [issue] = issuesOf(pool('  size: 2\n  sparkVersion: 4\n'));
    expect(issue).toMatchObject({ file: 'pools.yaml', field: 'spec.sparkVersion', line: 8 });
    expect(issuesOf(pool('  size: -1\n'))[0]).toMatchObject({ field: 'spec.size', line: 7 });
    expect(issuesOf(pool('  size: 1\n  colour: blue\n'))[0]).toMatchObject({ field: 'spec.colour', line: 8 });
    expect(issuesOf(`${pool('  size: 1\n')}---\n${pool('  size: 2\n')}`)[0]!.message).toMatch(/declared twice/);
  });
});

/**
 * Each process builds only what its role needs (gateway/compose.ts): asserted on what the one composition
 * function returns for the api, worker and watcher roles, from the same configuration (one cluster, a Lease
 * namespace, EMR and local Spark). The cluster's address answers nothing; no probe needs to succeed here.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import YAML from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../../config/index.js';
import { composeGateway, type Composition } from '../../gateway/compose.js';

let config: Config;
const compositions: Composition[] = [];
const logger = pino({ level: 'silent' });
const spark = { sparkHome: '/nonexistent/spark' };

beforeAll(() => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'compose-'));
  const kubeconfig = path.join(dir, 'kubeconfig');
  fs.writeFileSync(
    kubeconfig,
    YAML.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:9', 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'u', user: { token: 't' } }],
      contexts: [{ name: 'c', context: { cluster: 'c', user: 'u' } }],
      'current-context': 'c',
    }),
  );
  const clusters = path.join(dir, 'clusters.yaml');
  fs.writeFileSync(
    clusters,
    YAML.stringify({
      clusters: [{ name: 'east', region: 'us-east-1', capacity: 10, kubeconfig }],
      emr: {
        region: 'us-east-1',
        virtualClusterId: 'vc',
        executionRoleArn: 'arn:aws:iam::123456789012:role/r',
        releaseLabels: { '3.5': 'emr-7.9.0-latest' },
        logUri: 's3://logs/',
      },
    }),
  );
  config = loadConfig({
    GATEWAY_CONFIG: clusters,
    WATCH_LEASE_NAMESPACE: 'spark-runner',
    GATEWAY_HEALTH_TIMEOUT_MS: '200',
  });
});

afterAll(async () => {
  await Promise.all(compositions.map((c) => c.stop()));
});

async function compose(role: Composition['role']): Promise<Composition> {
  const composition = await composeGateway({ role, config, logger, spark });
  compositions.push(composition);
  return composition;
}

describe('the composition of each process role', () => {
  it('gives the API a gateway, and no health monitor, no watch and no Lease', async () => {
    const api = await compose('api');
    expect(api.gateway?.available.sort()).toEqual(['emr', 'kubernetes', 'local']);
    expect(api.monitor).toBeUndefined();
    expect(api.statusSources).toEqual([]);
    expect(api.electors.size).toBe(0);
  });

  it('gives the worker the gateway, the health monitor, and every status source, with a Lease per cluster', async () => {
    const worker = await compose('worker');
    expect(worker.gateway?.available.sort()).toEqual(['emr', 'kubernetes', 'local']);
    expect(worker.monitor?.snapshot().east?.healthy).toBe(false);
    expect(worker.statusSources.map((s) => s.name).sort()).toEqual(['emr', 'kubernetes', 'local']);
    expect([...worker.electors.keys()]).toEqual(['east']);
  });

  it('leaves the Kubernetes watch to the watcher when WORKER_WATCHES_KUBERNETES=false', async () => {
    const saved = config;
    config = { ...config, WORKER_WATCHES_KUBERNETES: false };
    try {
      const worker = await compose('worker');
      expect(worker.statusSources.map((s) => s.name).sort()).toEqual(['emr', 'local']);
      expect(worker.electors.size).toBe(0);
    } finally {
      config = saved;
    }
  });

  it('gives the watcher the monitor and the Kubernetes watch under a Lease, and no gateway', async () => {
    const watcher = await compose('watcher');
    expect(watcher.gateway).toBeUndefined();
    expect(watcher.monitor).toBeDefined();
    expect(watcher.statusSources.map((s) => s.name)).toEqual(['kubernetes']);
    expect([...watcher.electors.keys()]).toEqual(['east']);
  });
});

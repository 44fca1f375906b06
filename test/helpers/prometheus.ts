/**
 * A real Prometheus server for a test file: the binary the global setup unpacked (PROMETHEUS), scraping the given
 * `host:port` targets at a short interval, on a free loopback port with a throwaway TSDB directory. Tests read it
 * through the HTTP API (`/api/v1/query`, `/api/v1/targets`), as a dashboard or an alert rule would.
 *
 * Prometheus 2.x hands new targets to the scrape manager at most every 5 s, so the first scrape comes up to ~5 s
 * plus one interval after start; poll (`vi.waitFor`) rather than sleep.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { freePort, startProcess, waitFor } from '../../provision/process.js';

/** The value of a sample in Prometheus text (a /metrics page): `name{labels} value`, whose labels include `labels`. */
export function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) got[l[1]!] = l[2]!;
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) return Number(m[3]);
  }
  return undefined;
}

export interface PromSample {
  /** The series' labels, `__name__` included. */
  metric: Record<string, string>;
  value: number;
  /** Unix seconds of the evaluation. */
  timestamp: number;
}

export interface PromTarget {
  /** `host:port` as configured. */
  instance: string;
  job: string;
  scrapeUrl: string;
  health: 'up' | 'down' | 'unknown';
  lastError: string;
  lastScrape: string;
}

export interface TestPrometheus {
  /** `http://127.0.0.1:<port>`. */
  url: string;
  /** Evaluates an instant PromQL query now; throws on a query error. Vector results only. */
  query(promql: string): Promise<PromSample[]>;
  /** The active scrape targets and their health. */
  targets(): Promise<PromTarget[]>;
  /** Prometheus's own log lines, for failure messages. */
  output(): string[];
  /** Stops Prometheus and removes its TSDB and config. Safe to call twice. */
  stop(): Promise<void>;
}

export interface PrometheusOptions {
  /** Scrape interval (and timeout); default 1000. */
  scrapeIntervalMs?: number;
  /** Job name of the scrape config; default `test`. */
  job?: string;
  /** Path scraped on each target; default `/metrics`. */
  metricsPath?: string;
}

interface ApiResponse<T> {
  status: 'success' | 'error';
  data: T;
  errorType?: string;
  error?: string;
}

/** Starts Prometheus scraping `targets`; resolves once `/-/ready` answers 200. */
export async function startPrometheus(targets: string[], options: PrometheusOptions = {}): Promise<TestPrometheus> {
  const binary = process.env.PROMETHEUS;
  if (!binary) {
    throw new Error(
      "PROMETHEUS is not set: run the tests through vitest, whose global setup unpacks Debian's prometheus",
    );
  }
  const interval = `${options.scrapeIntervalMs ?? 1000}ms`;
  const job = options.job ?? 'test';
  const dir = fs.mkdtempSync(path.join(process.env.SPARK_RUNNER_TEST_TMP ?? os.tmpdir(), 'prometheus-'));
  const configFile = path.join(dir, 'prometheus.yml');
  fs.writeFileSync(
    configFile,
    YAML.stringify({
      global: { scrape_interval: interval, scrape_timeout: interval, evaluation_interval: interval },
      scrape_configs: [
        { job_name: job, metrics_path: options.metricsPath ?? '/metrics', static_configs: [{ targets }] },
      ],
    }),
  );
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const lines: string[] = [];
  const proc = startProcess(
    'prometheus',
    binary,
    [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      // Relative console paths would resolve against the working directory; no test uses them.
      `--web.console.templates=${path.join(dir, 'consoles')}`,
      `--web.console.libraries=${path.join(dir, 'console_libraries')}`,
    ],
    {
      cwd: dir,
      onLine: (line) => {
        lines.push(line);
        if (lines.length > 200) lines.shift();
      },
    },
  );
  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      await proc.stop('SIGTERM', 10_000);
      fs.rmSync(dir, { recursive: true, force: true });
    })());
  try {
    await waitFor(async () => (await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(2000) })).ok, {
      timeoutMs: 30_000,
      message: `Prometheus did not become ready on ${url}`,
      exited: proc.exited,
    });
  } catch (err) {
    await stop();
    const last = lines.filter((l) => /level=(error|fatal)|err=/i.test(l)).at(-1) ?? lines.at(-1);
    throw new Error(`${(err as Error).message}${last ? `; last output: ${last.slice(0, 400)}` : ''}`);
  }

  async function api<T>(pathAndQuery: string): Promise<T> {
    const res = await fetch(`${url}${pathAndQuery}`, { signal: AbortSignal.timeout(10_000) });
    const body = (await res.json()) as ApiResponse<T>;
    if (body.status !== 'success') {
      throw new Error(`Prometheus ${pathAndQuery}: ${body.errorType ?? `HTTP ${res.status}`}: ${body.error ?? ''}`);
    }
    return body.data;
  }

  return {
    url,
    async query(promql) {
      const data = await api<{
        resultType: string;
        result: { metric: Record<string, string>; value: [number, string] }[];
      }>(`/api/v1/query?query=${encodeURIComponent(promql)}`);
      if (data.resultType !== 'vector') throw new Error(`query ${promql} returned a ${data.resultType}, not a vector`);
      // Sample values are strings in the API ("NaN" and "+Inf" included); Number() reads them all.
      return data.result.map((r) => ({ metric: r.metric, timestamp: r.value[0], value: Number(r.value[1]) }));
    },
    async targets() {
      const data = await api<{
        activeTargets: {
          labels: Record<string, string>;
          scrapeUrl: string;
          health: PromTarget['health'];
          lastError: string;
          lastScrape: string;
        }[];
      }>('/api/v1/targets?state=active');
      return data.activeTargets.map((t) => ({
        instance: t.labels.instance ?? '',
        job: t.labels.job ?? '',
        scrapeUrl: t.scrapeUrl,
        health: t.health,
        lastError: t.lastError,
        lastScrape: t.lastScrape,
      }));
    },
    output: () => [...lines],
    stop,
  };
}

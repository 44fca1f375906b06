/**
 * A real OpenTelemetry Collector for a test file: the binary the global setup built (OTEL_COLLECTOR), started with
 * an OTLP receiver on free loopback ports (HTTP and gRPC) and the debug exporter at `verbosity: detailed`. What it
 * received is read back from that exporter's text, which is the collector's own rendering of the data it decoded.
 *
 * Each signal has its own debug exporter writing its own file, so concurrent pushes of traces and metrics never
 * interleave in one stream; the collector's own log lines are kept apart (`output()`). The text format is
 * exporter/debugexporter/internal/otlptext in the collector v0.165.0 source; the parsers below follow it:
 *   Span #0
 *       Trace ID       : 0102030405060708090a0b0c0d0e0f10
 *       Name           : operationA
 *   Attributes:
 *        -> key: Str(value)
 * Limits: a string attribute or log body holding a newline is cut at the newline (the format does not escape it).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { freePort, isPortOpen, startProcess, waitFor } from '../../provision/process.js';

export type AttributeValue = string | number | boolean | null | AttributeValue[] | { [key: string]: AttributeValue };
export type Attributes = Record<string, AttributeValue>;

export interface Scope {
  name: string;
  version: string;
}

export interface CollectedSpan {
  traceId: string;
  spanId: string;
  /** `''` for a root span. */
  parentId: string;
  name: string;
  /** `Server`, `Client`, `Internal`, `Producer`, `Consumer` or `Unspecified`. */
  kind: string;
  /** `Unset`, `Ok` or `Error`. */
  statusCode: string;
  statusMessage: string;
  startTime: string;
  endTime: string;
  /** The `service.name` resource attribute, if set. */
  serviceName?: string;
  resource: Attributes;
  scope: Scope;
  attributes: Attributes;
  events: { name: string; timestamp: string; attributes: Attributes }[];
  links: { traceId: string; spanId: string; attributes: Attributes }[];
}

export interface DataPoint {
  attributes: Attributes;
  startTimestamp: string;
  timestamp: string;
  /** Gauge and sum points. */
  value?: number;
  /** Histogram, exponential histogram and summary points. */
  count?: number;
  sum?: number;
  min?: number;
  max?: number;
  /** Explicit histogram bucket bounds and counts. */
  bounds?: number[];
  bucketCounts?: number[];
  /** Summary quantiles. */
  quantiles?: { quantile: number; value: number }[];
}

export interface CollectedMetric {
  name: string;
  description: string;
  unit: string;
  /** `Gauge`, `Sum`, `Histogram`, `ExponentialHistogram` or `Summary`. */
  type: string;
  isMonotonic?: boolean;
  /** `Cumulative` or `Delta`. */
  temporality?: string;
  serviceName?: string;
  resource: Attributes;
  scope: Scope;
  dataPoints: DataPoint[];
}

export interface CollectedLogRecord {
  timestamp: string;
  severityText: string;
  /** e.g. `Info` (from `Info(9)`). */
  severity: string;
  body: AttributeValue;
  traceId: string;
  spanId: string;
  serviceName?: string;
  resource: Attributes;
  scope: Scope;
  attributes: Attributes;
}

export interface TestCollector {
  /** `http://127.0.0.1:<port>`: OTLP/HTTP, e.g. `${httpEndpoint}/v1/traces`. */
  httpEndpoint: string;
  /** `127.0.0.1:<port>`: OTLP/gRPC. */
  grpcEndpoint: string;
  /** Every span received so far, in arrival order. */
  spans(): CollectedSpan[];
  /** Every metric received so far (one entry per metric per export), in arrival order. */
  metrics(): CollectedMetric[];
  logRecords(): CollectedLogRecord[];
  /** Resolves with the first span matching `pred`; rejects after `timeoutMs` (default 15 s) listing the span names seen. */
  waitForSpan(pred: (span: CollectedSpan) => boolean, timeoutMs?: number): Promise<CollectedSpan>;
  waitForMetric(pred: (metric: CollectedMetric) => boolean, timeoutMs?: number): Promise<CollectedMetric>;
  /** The collector's own log lines (start-up, errors), for failure messages. */
  output(): string[];
  /** Stops the collector and removes its directory. Safe to call twice. */
  stop(): Promise<void>;
}

const SIGNALS = ['traces', 'metrics', 'logs'] as const;

/** The collector config: OTLP in, batch, one detailed debug exporter per signal writing `<dir>/<signal>.txt`. */
function collectorConfig(dir: string, httpPort: number, grpcPort: number): string {
  const exporters: Record<string, unknown> = {};
  const pipelines: Record<string, unknown> = {};
  for (const signal of SIGNALS) {
    exporters[`debug/${signal}`] = {
      verbosity: 'detailed',
      use_internal_logger: false,
      output_paths: [path.join(dir, `${signal}.txt`)],
      // The exporter samples its output per message and second; never drop any.
      sampling_initial: 1_000_000,
      sampling_thereafter: 1,
    };
    pipelines[signal] = { receivers: ['otlp'], processors: ['batch'], exporters: [`debug/${signal}`] };
  }
  return YAML.stringify({
    receivers: {
      otlp: {
        protocols: { http: { endpoint: `127.0.0.1:${httpPort}` }, grpc: { endpoint: `127.0.0.1:${grpcPort}` } },
      },
    },
    // Short, so tests see an export within a poll or two; it still exercises batching as a deployment would.
    processors: { batch: { timeout: '50ms' } },
    exporters,
    // level none: no self-metrics server, which would otherwise bind :8888 and clash between test files.
    service: { telemetry: { metrics: { level: 'none' } }, pipelines },
  });
}

/** Starts a collector; resolves once its OTLP/HTTP port answers HTTP and its gRPC port accepts connections. */
export async function startCollector(options: { timeoutMs?: number } = {}): Promise<TestCollector> {
  const binary = process.env.OTEL_COLLECTOR;
  if (!binary) {
    throw new Error('OTEL_COLLECTOR is not set: run the tests through vitest, whose global setup builds the collector');
  }
  const dir = fs.mkdtempSync(path.join(process.env.SPARK_RUNNER_TEST_TMP ?? os.tmpdir(), 'otelcol-'));
  const [httpPort, grpcPort] = [await freePort(), await freePort()];
  const configFile = path.join(dir, 'config.yaml');
  fs.writeFileSync(configFile, collectorConfig(dir, httpPort, grpcPort));
  const lines: string[] = [];
  const proc = startProcess('otelcol', binary, [`--config=${configFile}`], {
    onLine: (line) => {
      lines.push(line);
      if (lines.length > 200) lines.shift();
    },
  });
  const httpEndpoint = `http://127.0.0.1:${httpPort}`;
  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      await proc.stop('SIGTERM', 10_000);
      fs.rmSync(dir, { recursive: true, force: true });
    })());
  try {
    await waitFor(async () => (await httpAnswers(`${httpEndpoint}/v1/traces`)) && (await isPortOpen(grpcPort)), {
      timeoutMs: options.timeoutMs ?? 30_000,
      message: `the OpenTelemetry Collector did not answer on ${httpEndpoint}`,
      exited: proc.exited,
    });
  } catch (err) {
    await stop();
    const last = lines.filter((l) => /error/i.test(l)).at(-1) ?? lines.at(-1);
    throw new Error(`${(err as Error).message}${last ? `; last output: ${last.slice(0, 400)}` : ''}`);
  }
  const read = (signal: (typeof SIGNALS)[number]) => completeEntries(path.join(dir, `${signal}.txt`));
  const spans = () => parseSpans(read('traces'));
  const metrics = () => parseMetrics(read('metrics'));
  return {
    httpEndpoint,
    grpcEndpoint: `127.0.0.1:${grpcPort}`,
    spans,
    metrics,
    logRecords: () => parseLogRecords(read('logs')),
    waitForSpan: (pred, timeoutMs = 15_000) =>
      waitForItem(spans, pred, timeoutMs, (all) => `no matching span; spans seen: ${names(all)}`),
    waitForMetric: (pred, timeoutMs = 15_000) =>
      waitForItem(metrics, pred, timeoutMs, (all) => `no matching metric; metrics seen: ${names(all)}`),
    output: () => [...lines],
    stop,
  };
}

/** True when anything answers HTTP at `url` (the OTLP receiver answers a GET with 405). */
async function httpAnswers(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    await res.body?.cancel();
    return true;
  } catch {
    return false;
  }
}

function names(items: { name: string }[]): string {
  return items.length === 0 ? '(none)' : [...new Set(items.map((i) => i.name))].join(', ');
}

async function waitForItem<T>(
  list: () => T[],
  pred: (item: T) => boolean,
  timeoutMs: number,
  describe: (all: T[]) => string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const all = list();
    const found = all.find(pred);
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`${describe(all)} (after ${timeoutMs} ms)`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * The file's lines up to the end of its last complete entry. Each detailed dump ends with a blank line (the
 * marshaled text ends with a newline and the logger adds one), so a dump still being written is left out.
 */
function completeEntries(file: string): string[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const end = text.lastIndexOf('\n\n');
  return end < 0 ? [] : text.slice(0, end).split('\n');
}

// ---- the debug exporter's detailed text -------------------------------------------------------------------

/** `     -> key: Type(value)` at any depth. */
const ATTRIBUTE = /^\s+-> (.+?): (Str|Int|Double|Bool|Map|Slice|Bytes|Empty)\((.*)\)$/;
/** `    Trace ID       : value` (a span field: four spaces, name padded to 15, colon). */
const SPAN_FIELD = /^ {4}(\S.*?) *: ?(.*)$/;
/** `     -> Name: value` (descriptor, event and link fields). */
const ARROW_FIELD = /^\s+-> ([^:]+): ?(.*)$/;
/** `Timestamp: value` (data point and log record fields). */
const FIELD = /^(\w[\w ]*?): ?(.*)$/;

/** Parses an attribute value as pcommon.Value.AsString renders it inside `Type(...)`. */
export function attributeValue(type: string, raw: string): AttributeValue {
  switch (type) {
    case 'Int':
    case 'Double':
      return Number(raw);
    case 'Bool':
      return raw === 'true';
    case 'Map':
    case 'Slice':
      try {
        return JSON.parse(raw) as AttributeValue;
      } catch {
        return raw;
      }
    case 'Empty':
      return null;
    default:
      return raw;
  }
}

function attribute(line: string): [string, AttributeValue] | undefined {
  const m = ATTRIBUTE.exec(line);
  return m ? [m[1]!, attributeValue(m[2]!, m[3]!)] : undefined;
}

/** What the resource, scope and attribute headers shared by all three signals set. */
interface Context {
  resource: Attributes;
  scope: Scope;
  /** Where `-> key: Type(value)` lines go now, if anywhere. */
  attributes?: Attributes;
}

/** Handles the lines every signal's dump shares; returns false for a line the caller must handle. */
function commonLine(line: string, ctx: Context): boolean {
  if (/^Resource(Spans|Metrics|Log) #\d+$/.test(line)) {
    ctx.resource = {};
    ctx.attributes = undefined;
  } else if (line === 'Resource attributes:') {
    ctx.attributes = ctx.resource;
  } else if (line === 'Resource entity refs:' || /^(Resource|Scope\w+) SchemaURL: /.test(line)) {
    ctx.attributes = undefined;
  } else if (/^Scope(Spans|Metrics|Logs) #\d+$/.test(line)) {
    ctx.scope = { name: '', version: '' };
    ctx.attributes = undefined;
  } else if (line === 'InstrumentationScope attributes:') {
    ctx.attributes = {};
  } else if (line.startsWith('InstrumentationScope ')) {
    const [name = '', version = ''] = line.slice('InstrumentationScope '.length).split(' ');
    ctx.scope = { name, version };
  } else {
    return false;
  }
  return true;
}

/** Stores a `-> key: Type(value)` line in the attributes being read, if any; returns whether it did. */
function attributeLine(line: string, ctx: Context): boolean {
  const parsed = ctx.attributes && attribute(line);
  if (!parsed) return false;
  ctx.attributes![parsed[0]] = parsed[1];
  return true;
}

function serviceName(resource: Attributes): string | undefined {
  const name = resource['service.name'];
  return typeof name === 'string' ? name : undefined;
}

/** Spans from the debug exporter's detailed trace dumps. */
export function parseSpans(lines: string[]): CollectedSpan[] {
  const spans: CollectedSpan[] = [];
  const ctx: Context = { resource: {}, scope: { name: '', version: '' } };
  let span: CollectedSpan | undefined;
  /** Where `-> Name:`-style fields go: the current event or link. */
  let item: { name?: string; timestamp?: string; traceId?: string; spanId?: string } | undefined;
  for (const line of lines) {
    if (attributeLine(line, ctx)) continue;
    if (commonLine(line, ctx)) {
      span = undefined;
      continue;
    }
    if (/^Span #\d+$/.test(line)) {
      const resource = ctx.resource;
      span = {
        ...{ traceId: '', spanId: '', parentId: '', name: '', kind: '', statusCode: '', statusMessage: '' },
        ...{ startTime: '', endTime: '', resource, scope: ctx.scope, serviceName: serviceName(resource) },
        ...{ attributes: {}, events: [], links: [] },
      };
      spans.push(span);
      ctx.attributes = undefined;
      item = undefined;
      continue;
    }
    if (!span) continue;
    if (line === 'Attributes:') {
      ctx.attributes = span.attributes;
    } else if (line === 'Events:' || line === 'Links:') {
      ctx.attributes = undefined;
    } else if (/^SpanEvent #\d+$/.test(line)) {
      const event = { name: '', timestamp: '', attributes: {} };
      span.events.push(event);
      item = event;
      ctx.attributes = undefined;
    } else if (/^SpanLink #\d+$/.test(line)) {
      const link = { traceId: '', spanId: '', attributes: {} };
      span.links.push(link);
      item = link;
      ctx.attributes = undefined;
    } else if (line.endsWith('-> Attributes::') && item) {
      ctx.attributes = (item as { attributes: Attributes }).attributes;
    } else if (item && ARROW_FIELD.test(line)) {
      const [, key, value = ''] = ARROW_FIELD.exec(line)!;
      if (key === 'Name') item.name = value;
      else if (key === 'Timestamp') item.timestamp = value;
      else if (key === 'Trace ID') item.traceId = value;
      else if (key === 'ID') item.spanId = value;
    } else if (SPAN_FIELD.test(line)) {
      const [, key, value = ''] = SPAN_FIELD.exec(line)!;
      spanField(span, key!, value.trimEnd());
    }
  }
  return spans;
}

function spanField(span: CollectedSpan, key: string, value: string): void {
  const fields: Record<string, keyof CollectedSpan> = {
    'Trace ID': 'traceId',
    'Parent ID': 'parentId',
    ID: 'spanId',
    Name: 'name',
    Kind: 'kind',
    'Start time': 'startTime',
    'End time': 'endTime',
    'Status code': 'statusCode',
    'Status message': 'statusMessage',
  };
  const field = fields[key];
  if (field) (span as unknown as Record<string, string>)[field] = value;
}

/** Metrics from the debug exporter's detailed metric dumps. */
export function parseMetrics(lines: string[]): CollectedMetric[] {
  const metrics: CollectedMetric[] = [];
  const ctx: Context = { resource: {}, scope: { name: '', version: '' } };
  let metric: CollectedMetric | undefined;
  let point: DataPoint | undefined;
  let inDescriptor = false;
  let inExemplars = false;
  for (const line of lines) {
    if (attributeLine(line, ctx)) continue;
    if (commonLine(line, ctx)) {
      metric = undefined;
      continue;
    }
    if (/^Metric #\d+$/.test(line)) {
      const resource = ctx.resource;
      metric = { name: '', description: '', unit: '', type: '', resource, scope: ctx.scope, dataPoints: [] };
      metric.serviceName = serviceName(resource);
      metrics.push(metric);
      point = undefined;
      ctx.attributes = undefined;
      continue;
    }
    if (!metric) continue;
    if (line === 'Descriptor:') {
      inDescriptor = true;
      inExemplars = false;
      ctx.attributes = undefined;
    } else if (/^\w*DataPoints #\d+$/.test(line)) {
      inDescriptor = inExemplars = false;
      point = { attributes: {}, startTimestamp: '', timestamp: '' };
      metric.dataPoints.push(point);
      ctx.attributes = undefined;
    } else if (line === 'Data point attributes:' && point) {
      ctx.attributes = point.attributes;
    } else if (line === 'Exemplars:') {
      inExemplars = true;
      ctx.attributes = undefined;
    } else if (inExemplars) {
      // Exemplar #n and its -> fields: not collected.
    } else if (inDescriptor) {
      const m = ARROW_FIELD.exec(line);
      // `     -> Metadata:` and its entries are nested one level deeper; they are not collected.
      if (m && line.startsWith('     -> ')) descriptorField(metric, m[1]!, m[2] ?? '');
    } else if (point) {
      pointField(point, line);
    }
  }
  return metrics;
}

function descriptorField(metric: CollectedMetric, key: string, value: string): void {
  switch (key) {
    case 'Name':
      metric.name = value;
      break;
    case 'Description':
      metric.description = value;
      break;
    case 'Unit':
      metric.unit = value;
      break;
    case 'DataType':
      metric.type = value;
      break;
    case 'IsMonotonic':
      metric.isMonotonic = value === 'true';
      break;
    case 'AggregationTemporality':
      metric.temporality = value;
      break;
  }
}

function pointField(point: DataPoint, line: string): void {
  let m: RegExpExecArray | null;
  if ((m = /^ExplicitBounds #\d+: (\S+)$/.exec(line))) {
    (point.bounds ??= []).push(Number(m[1]));
  } else if ((m = /^Buckets #\d+, Count: (\d+)$/.exec(line))) {
    (point.bucketCounts ??= []).push(Number(m[1]));
  } else if ((m = /^QuantileValue #\d+: Quantile (\S+), Value (\S+)$/.exec(line))) {
    (point.quantiles ??= []).push({ quantile: Number(m[1]), value: Number(m[2]) });
  } else if ((m = FIELD.exec(line))) {
    const [, key, value = ''] = m;
    if (key === 'StartTimestamp') point.startTimestamp = value;
    else if (key === 'Timestamp') point.timestamp = value;
    else if (key === 'Value' || key === 'Count' || key === 'Sum' || key === 'Min' || key === 'Max') {
      point[key.toLowerCase() as 'value' | 'count' | 'sum' | 'min' | 'max'] = Number(value);
    }
  }
}

/** Log records from the debug exporter's detailed log dumps. */
export function parseLogRecords(lines: string[]): CollectedLogRecord[] {
  const records: CollectedLogRecord[] = [];
  const ctx: Context = { resource: {}, scope: { name: '', version: '' } };
  let record: CollectedLogRecord | undefined;
  for (const line of lines) {
    if (attributeLine(line, ctx)) continue;
    if (commonLine(line, ctx)) {
      record = undefined;
      continue;
    }
    if (/^LogRecord #\d+$/.test(line)) {
      const resource = ctx.resource;
      record = {
        ...{ timestamp: '', severityText: '', severity: '', body: null, traceId: '', spanId: '' },
        ...{ resource, scope: ctx.scope, serviceName: serviceName(resource), attributes: {} },
      };
      records.push(record);
      ctx.attributes = undefined;
      continue;
    }
    if (!record) continue;
    if (line === 'Attributes:') {
      ctx.attributes = record.attributes;
      continue;
    }
    const m = FIELD.exec(line);
    if (!m) continue;
    ctx.attributes = undefined;
    const [, key, value = ''] = m;
    if (key === 'Timestamp') record.timestamp = value;
    else if (key === 'SeverityText') record.severityText = value;
    else if (key === 'SeverityNumber') record.severity = value.replace(/\(\d+\)$/, '');
    else if (key === 'Trace ID') record.traceId = value;
    else if (key === 'Span ID') record.spanId = value;
    else if (key === 'Body') {
      const body = /^(\w+)\((.*)\)$/.exec(value);
      record.body = body ? attributeValue(body[1]!, body[2]!) : value;
    }
  }
  return records;
}

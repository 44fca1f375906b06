/**
 * TEST-ONLY STAND-IN for the Apache Spark Kubernetes Operator, which cannot run here: there is no kubelet to run
 * driver pods (DESIGN.md "What is real"). It writes SparkApplication `.status` through the real status
 * subresource, one patch per transition, the way the operator documents it (reference/apache-spark-operator.md
 * §3): `currentState` plus a new `stateTransitionHistory` entry under the next numeric key. It also plays the
 * operator's finalizer, so deleting a CR mid-run goes through "ResourceReleased … shutdown as requested" before
 * the object disappears, as with the real operator.
 */
import { KubeConfig, Watch } from '@kubernetes/client-node';
import { kubeRequest, type KubeConnection } from '../../provision/kubernetes/index.js';

/** The stand-in's User-Agent: the audit log tells its requests (the operator's, in production) from Spark Runner's. */
export const STANDIN_USER_AGENT = 'operator-standin';

export const STANDIN_FINALIZER = 'sparkapplications.spark.apache.org/finalizer';
export const SHUTDOWN_MESSAGE = 'Spark application has been shutdown as requested.';

export interface Transition {
  state: string;
  message?: string;
  /** A core/v1 PodStatus, as the operator records for failures and timeouts. */
  driver?: object;
}

/** The documented sequences (tests/e2e/assertions of the operator). */
export const SEQUENCES = {
  success: [
    'Submitted',
    'DriverRequested',
    'DriverStarted',
    'DriverReady',
    'RunningHealthy',
    'Succeeded',
    'ResourceReleased',
  ],
  failureWithRetain: [
    'Submitted',
    'DriverRequested',
    'DriverStarted',
    'DriverReady',
    'RunningHealthy',
    {
      state: 'Failed',
      message: 'Driver has failed.',
      driver: {
        phase: 'Failed',
        containerStatuses: [
          {
            name: 'spark-kubernetes-driver',
            ready: false,
            restartCount: 0,
            image: 'apache/spark:4.0.1',
            imageID: '',
            state: { terminated: { exitCode: 1, reason: 'Error', message: 'Exception in thread "main"' } },
          },
        ],
      },
    },
    'TerminatedWithoutReleaseResources',
  ],
  driverStartTimeout: [
    'Submitted',
    'DriverRequested',
    { state: 'DriverStartTimedOut', message: 'The driver has not started within 300000 ms.' },
    'ResourceReleased',
  ],
  running: ['Submitted', 'DriverRequested', 'DriverStarted', 'DriverReady', 'RunningHealthy'],
} satisfies Record<string, (string | Transition)[]>;

export interface OperatorStandIn {
  /** Adds the operator's finalizer, as the real operator does on first reconcile. */
  claim(namespace: string, name: string): Promise<void>;
  transition(namespace: string, name: string, step: string | Transition): Promise<void>;
  drive(namespace: string, name: string, steps: (string | Transition)[]): Promise<void>;
  /** Completes a pending deletion: ResourceReleased with the "shutdown as requested" message, then drops the finalizer. */
  finishDeletion(namespace: string, name: string): Promise<void>;
}

const path = (namespace: string, name: string) =>
  `/apis/spark.apache.org/v1/namespaces/${namespace}/sparkapplications/${name}`;
const MERGE = { contentType: 'application/merge-patch+json' };

/** One status write as the operator makes it: `currentState` plus history entry `index`. */
function statusPatch(t: Transition, index: number): object {
  const state = {
    currentStateSummary: t.state,
    lastTransitionTime: new Date().toISOString(),
    ...(t.message ? { message: t.message } : {}),
    ...(t.driver ? { lastObservedDriverStatus: t.driver } : {}),
  };
  return {
    status: {
      currentState: state,
      stateTransitionHistory: { [String(index)]: state },
      currentAttemptSummary: { attemptInfo: { id: 0, restartCounter: 0 } },
    },
  };
}

export function createOperatorStandIn(given: KubeConnection): OperatorStandIn {
  const conn = { userAgent: STANDIN_USER_AGENT, ...given };
  async function patch(url: string, body: object): Promise<void> {
    const res = await kubeRequest(conn, 'PATCH', url, body, MERGE);
    if (res.status !== 200) throw new Error(`stand-in PATCH ${url} → ${res.status}: ${res.text}`);
  }

  async function transition(namespace: string, name: string, step: string | Transition): Promise<void> {
    const t = typeof step === 'string' ? { state: step } : step;
    const res = await kubeRequest(conn, 'GET', path(namespace, name));
    if (res.status !== 200) throw new Error(`stand-in GET ${name} → ${res.status}`);
    const history = (res.body as { status?: { stateTransitionHistory?: Record<string, unknown> } }).status
      ?.stateTransitionHistory;
    const next = Math.max(-1, ...Object.keys(history ?? {}).map(Number)) + 1;
    await patch(`${path(namespace, name)}/status`, statusPatch(t, next));
  }

  return {
    claim: (namespace, name) => patch(path(namespace, name), { metadata: { finalizers: [STANDIN_FINALIZER] } }),
    transition,
    async drive(namespace, name, steps) {
      for (const step of steps) await transition(namespace, name, step);
    },
    async finishDeletion(namespace, name) {
      await transition(namespace, name, { state: 'ResourceReleased', message: SHUTDOWN_MESSAGE });
      await patch(path(namespace, name), { metadata: { finalizers: null } });
    },
  };
}

/** A SparkApplication the fleet picked up, as its plan sees it. */
export interface FleetApp {
  namespace: string;
  name: string;
  labels: Record<string, string>;
}

/**
 * What the fleet does with one app: each step after its delay (ms after the previous step, or after pick-up); a
 * function is asked when the previous step is done (an end time the caller learns later).
 */
export type FleetPlan = { step: string | Transition; afterMs: number | (() => number) }[];

export interface FleetWrite {
  app: FleetApp;
  state: string;
  /** Epoch ms when the API server had accepted the status write (its response arrived). */
  at: number;
}

export interface StandInFleet {
  /** Every status write so far, in order. */
  readonly writes: FleetWrite[];
  /** Apps picked up, and apps whose plan has run to its end. */
  readonly picked: number;
  readonly done: number;
  /** Write failures (each is retried once after 500 ms, then counted here). */
  readonly failures: string[];
  stop(): Promise<void>;
}

/**
 * TEST-ONLY: the stand-in at scale. It watches every SparkApplication labelled as Spark Runner's (one watch, its
 * own User-Agent) and moves each new one through `plan(app)` on its own timers, one status write per transition
 * through the status subresource, as the operator does. It keeps each app's history index itself, so a
 * transition costs one PATCH (the operator works from its informer cache, not a GET per write).
 */
export function startStandInFleet(
  given: KubeConnection & { kubeconfigPath: string },
  plan: (app: FleetApp) => FleetPlan,
): StandInFleet {
  const conn = { userAgent: STANDIN_USER_AGENT, ...given };
  const writes: FleetWrite[] = [];
  const failures: string[] = [];
  const seen = new Set<string>();
  const timers = new Set<NodeJS.Timeout>();
  let picked = 0;
  let done = 0;
  let stopped = false;

  async function write(app: FleetApp, t: Transition, index: number): Promise<void> {
    const url = `${path(app.namespace, app.name)}/status`;
    for (let attempt = 0; attempt < 2; attempt++) {
      const res = await kubeRequest(conn, 'PATCH', url, statusPatch(t, index), MERGE).catch((err: Error) => ({
        status: 0,
        text: err.message,
      }));
      if (res.status === 200) {
        writes.push({ app, state: t.state, at: Date.now() });
        return;
      }
      if (attempt === 0) await new Promise((r) => setTimeout(r, 500));
      else failures.push(`${app.name} ${t.state}: ${res.status} ${res.text.slice(0, 200)}`);
    }
  }

  function run(app: FleetApp, steps: FleetPlan, index = 0): void {
    if (stopped) return;
    const next = steps[index];
    if (!next) {
      done += 1;
      return;
    }
    const timer = setTimeout(
      () => {
        timers.delete(timer);
        const t = typeof next.step === 'string' ? { state: next.step } : next.step;
        void write(app, t, index).then(() => run(app, steps, index + 1));
      },
      Math.max(0, typeof next.afterMs === 'function' ? next.afterMs() : next.afterMs),
    );
    timers.add(timer);
  }

  const kc = new KubeConfig();
  kc.loadFromFile(given.kubeconfigPath);
  const fetchOptions = kc.applyToFetchOptions.bind(kc);
  kc.applyToFetchOptions = async (opts) => {
    const init = await fetchOptions(opts);
    (init.headers as unknown as Headers).set('User-Agent', STANDIN_USER_AGENT);
    return init;
  };
  const watch = new Watch(kc);
  let controller: AbortController | undefined;
  const open = async (): Promise<void> => {
    if (stopped) return;
    controller = await watch.watch(
      '/apis/spark.apache.org/v1/sparkapplications',
      { labelSelector: 'app.kubernetes.io/managed-by=spark-runner' },
      (
        type: string,
        obj: { metadata?: { name?: string; namespace?: string; labels?: Record<string, string> }; status?: object },
      ) => {
        const { name, namespace, labels } = obj.metadata ?? {};
        if (type !== 'ADDED' || !name || !namespace || seen.has(`${namespace}/${name}`)) return;
        if (obj.status) return; // already reconciled (by an earlier fleet): not new
        seen.add(`${namespace}/${name}`);
        picked += 1;
        const app = { name, namespace, labels: labels ?? {} };
        run(app, plan(app));
      },
      () => void setTimeout(() => void open(), 200), // the server ended the watch: reopen (ADDED repeats are skipped)
    );
  };
  const opened = open();

  return {
    writes,
    failures,
    get picked() {
      return picked;
    },
    get done() {
      return done;
    },
    async stop() {
      stopped = true;
      await opened.catch(() => undefined);
      controller?.abort();
      for (const t of timers) clearTimeout(t);
    },
  };
}

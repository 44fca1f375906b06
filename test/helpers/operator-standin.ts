/**
 * TEST-ONLY STAND-IN for the Apache Spark Kubernetes Operator, which cannot run here: there is no kubelet to run
 * driver pods (DESIGN.md "What is real"). It writes SparkApplication `.status` through the real status
 * subresource, one patch per transition, the way the operator documents it (reference/apache-spark-operator.md
 * §3): `currentState` plus a new `stateTransitionHistory` entry under the next numeric key. It also plays the
 * operator's finalizer, so deleting a CR mid-run goes through "ResourceReleased … shutdown as requested" before
 * the object disappears, as with the real operator.
 */
import { kubeRequest, type KubeConnection } from '../../provision/kubernetes/index.js';

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

export function createOperatorStandIn(conn: KubeConnection): OperatorStandIn {
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
    const state = {
      currentStateSummary: t.state,
      lastTransitionTime: new Date().toISOString(),
      ...(t.message ? { message: t.message } : {}),
      ...(t.driver ? { lastObservedDriverStatus: t.driver } : {}),
    };
    await patch(`${path(namespace, name)}/status`, {
      status: {
        currentState: state,
        stateTransitionHistory: { [String(next)]: state },
        currentAttemptSummary: { attemptInfo: { id: 0, restartCounter: 0 } },
      },
    });
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

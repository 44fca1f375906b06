/**
 * Reading a driver container's log through the Kubernetes API (`GET /api/v1/namespaces/<ns>/pods/<pod>/log`),
 * behind a small interface: the kube-apiserver serves the log from the kubelet running the pod, and there is no
 * kubelet in this project's tests, so tests hand the backend a stand-in reader and say so.
 *
 * Errors: the API's answer is thrown with its HTTP status (`httpStatusOf` reads it): 404 when the pod does not
 * exist (not created yet, or removed by the operator), 400 when no node runs it.
 */
import http from 'node:http';
import https from 'node:https';
import type { ClusterClient } from './clients.js';

/** One container of one pod. */
export interface PodRef {
  namespace: string;
  name: string;
  container: string;
}

export interface PodLogReader {
  /** The container's log as text (its last `tailLines`, when given). */
  read(client: ClusterClient, pod: PodRef, options?: { tailLines?: number }): Promise<string>;
  /** The container's whole log as a byte stream, never held whole. */
  stream(client: ClusterClient, pod: PodRef, signal?: AbortSignal): AsyncIterable<Uint8Array>;
}

/** An API error carrying its HTTP status, shaped like the client library's (`code`). */
class PodLogError extends Error {
  override readonly name = 'PodLogError';
  constructor(
    message: string,
    readonly code: number,
  ) {
    super(message);
  }
}

/** The pod log API, through the cluster's client (rate limit included). */
export const apiPodLogs: PodLogReader = {
  read: (client, pod, options) =>
    client.throttle.call(() =>
      client.core.readNamespacedPodLog({
        name: pod.name,
        namespace: pod.namespace,
        container: pod.container,
        ...(options?.tailLines !== undefined ? { tailLines: options.tailLines } : {}),
      }),
    ),

  async *stream(client, pod, signal) {
    const server = client.kubeConfig.getCurrentCluster()?.server;
    if (!server) throw new Error(`cluster ${client.name} has no current server in its kubeconfig`);
    const url = new URL(
      `${server.replace(/\/+$/, '')}/api/v1/namespaces/${encodeURIComponent(pod.namespace)}/pods/${encodeURIComponent(pod.name)}/log`,
    );
    url.searchParams.set('container', pod.container);
    const options: https.RequestOptions = { method: 'GET', ...(signal ? { signal } : {}) };
    await client.kubeConfig.applyToHTTPSOptions(options);
    // The client library's own log helper pipes without passing errors on, which would leave a reader hanging.
    const res = await client.throttle.call(async () => {
      const answer = await new Promise<http.IncomingMessage>((resolve, reject) => {
        const request = (url.protocol === 'https:' ? https : http).request(url, options, resolve);
        request.once('error', reject);
        request.end();
      });
      if (answer.statusCode === 200) return answer;
      const chunks: Buffer[] = [];
      for await (const chunk of answer) chunks.push(chunk as Buffer);
      const body = Buffer.concat(chunks).toString('utf8').slice(0, 500);
      // Thrown inside the throttle, so a 429 or 5xx is retried like every other call.
      throw new PodLogError(
        `pod log ${pod.namespace}/${pod.name}: HTTP ${answer.statusCode}: ${body}`,
        answer.statusCode ?? 0,
      );
    });
    yield* res as AsyncIterable<Buffer>;
  },
};

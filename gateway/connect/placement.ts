/**
 * Where a Spark Connect server runs: decided by the Spark Gateway like any attempt (gateway/index.ts), so the
 * same rules pick the backend, the cluster and the team's namespace, and the decision is recorded once per server
 * (`placements`, keyed by the server id), so a retried start never moves. Only local Spark and Kubernetes can host
 * a Connect server; a pool or session that insists on one of them says so in `backend`.
 */
import { CONNECT_BACKENDS, type ConnectBackendName } from '../../schema/session-states.js';
import { BackendRejection, type Placement } from '../backend.js';
import type { SparkGateway } from '../index.js';
import { connectAttemptRequest } from './kubernetes-build.js';
import type { ServerRequest } from './servers.js';

/** Places the server, or throws: `BackendRejection` when it can never run here, a plain error while it must wait. */
export async function placeConnectServer(
  gateway: SparkGateway,
  request: ServerRequest,
  backend: ConnectBackendName | 'auto',
): Promise<Placement & { backend: ConnectBackendName }> {
  const decision = await gateway.place(connectAttemptRequest(request, backend));
  if (decision.kind === 'unavailable')
    throw new Error(`no backend can take the Connect server now: ${decision.reason}`);
  const placement = decision.placement;
  if (!(CONNECT_BACKENDS as readonly string[]).includes(placement.backend)) {
    throw new BackendRejection(
      `Spark Connect servers run on local Spark or Kubernetes; the gateway chose ${placement.backend} (${placement.reason})`,
    );
  }
  return placement as Placement & { backend: ConnectBackendName };
}

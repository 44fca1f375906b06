/**
 * The Spark Gateway: the one place that decides which backend (and, for Kubernetes, which cluster and namespace)
 * runs an attempt. The workflow and the API never choose a backend themselves.
 */
import type { NormalizedJobSpec } from '../schema/job-spec.js';
import type { BackendName } from '../schema/states.js';
import { BackendRejection, type Backend } from './backend.js';

export class SparkGateway {
  private readonly defaultBackend: BackendName;

  /** `defaultBackend` unset: Kubernetes when it is configured, else local Spark. */
  constructor(
    private readonly backends: Partial<Record<BackendName, Backend>>,
    defaultBackend?: BackendName,
  ) {
    this.defaultBackend = defaultBackend ?? (backends.kubernetes ? 'kubernetes' : 'local');
  }

  /** Backends this gateway can route to. */
  get available(): Backend[] {
    return Object.values(this.backends).filter((b): b is Backend => b !== undefined);
  }

  /** Chooses the backend for a spec: its explicit preference, or the configured default for `auto`. */
  route(spec: NormalizedJobSpec): Backend {
    const name = spec.backend === 'auto' ? this.defaultBackend : spec.backend;
    const backend = this.backends[name];
    if (!backend) {
      const known = Object.keys(this.backends).join(', ') || 'none';
      throw new BackendRejection(`backend "${name}" is not configured here (configured: ${known})`);
    }
    return backend;
  }

  /** The backend that owns an existing run. */
  get(name: string): Backend {
    const backend = this.backends[name as BackendName];
    if (!backend) throw new BackendRejection(`backend "${name}" is not configured here`);
    return backend;
  }
}

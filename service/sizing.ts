/**
 * APS at submit: reads a job's history from the store and asks runner/aps.ts for the next run's sizes. Used by the
 * execution workflow's first activity (every trigger: REST, CLI, schedule, continuous loop), by dry-run and by the
 * recommendation route, so all three see the same decision.
 *
 * `sizing: manual` (or absent) changes nothing and records nothing; `recommend` records the recommendation in the
 * SUBMIT event without applying it; `auto` runs with it. The requested sizes never exceed the team's caps (submit
 * rejects those), and APS caps its own.
 */
import { apsSettings, teamCaps, type ApsConfig, type Config } from '../config/index.js';
import { describeChanges, recommend, type Recommendation, type SizingDecision } from '../runner/aps.js';

export type { SizingDecision } from '../runner/aps.js';
import type { NormalizedJobSpec } from '../schema/job-spec.js';
import type { ExecutionStore } from '../store/executions.js';

export type SizingConfig = ApsConfig & Pick<Config, 'TEAM_RESOURCE_LIMITS'>;

export interface SizingDeps {
  store: Pick<ExecutionStore, 'sizingHistory'>;
  config: SizingConfig;
  now?: () => Date;
}

/** APS's recommendation for a job's next run, from its history. */
export async function recommendFor(
  deps: SizingDeps,
  input: { team: string; jobPath: string; requested: NormalizedJobSpec['resources'] },
): Promise<Recommendation> {
  const settings = apsSettings(deps.config);
  const now = deps.now?.() ?? new Date();
  const since = new Date(now.getTime() - settings.historyDays * 86_400_000);
  const history = await deps.store.sizingHistory(input.jobPath, since, settings.historyLimit);
  return recommend({ requested: input.requested, history, caps: teamCaps(deps.config, input.team), settings });
}

/** The decision for a submit of `spec`; undefined in `manual`. */
export async function decideSizing(
  deps: SizingDeps,
  input: { team: string; jobPath: string; spec: NormalizedJobSpec },
): Promise<SizingDecision | undefined> {
  const mode = input.spec.sizing ?? 'manual';
  if (mode === 'manual') return undefined;
  const rec = await recommendFor(deps, { team: input.team, jobPath: input.jobPath, requested: input.spec.resources });
  return {
    mode,
    applied: mode === 'auto',
    requested: input.spec.resources,
    resources: rec.resources,
    changes: describeChanges(rec),
    confidence: rec.confidence,
    samples: rec.samples,
  };
}

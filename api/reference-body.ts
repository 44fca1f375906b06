/**
 * The reference's submit body (spark-platform-reference.md, "POST /api/v1/jobs"):
 *   { name, team, user, config: { spark_version, job_type, core_etl: { version, job_spec }, resources } }
 * translated into a JobSpec input, so both shapes go through the same validation and normalization.
 */
import { z } from 'zod';
import type { JobSpecInput } from '../schema/job-spec.js';
import { USER_NAME } from './auth.js';

type CoreEtlJobSpecInput = Extract<JobSpecInput['application'], { type: 'coreEtl' }>['jobSpec'];

const Size = z.union([z.string(), z.number()]);

export const ReferenceSubmitBody = z
  .object({
    name: z.string(),
    team: z.string().optional(),
    user: USER_NAME.optional(),
    idempotency_key: z.string().min(1).max(200).optional(),
    config: z
      .object({
        spark_version: z.string(),
        job_type: z.enum(['BATCH', 'STREAMING', 'batch', 'streaming']).default('BATCH'),
        core_etl: z
          .object({
            version: z.string().min(1),
            job_spec: z.record(z.string(), z.unknown()),
            jar_path: z.string().min(1).optional(),
            main_class: z.string().min(1).optional(),
          })
          .strict(),
        resources: z
          .object({
            driver: z.object({ cores: z.number().optional(), memory: Size.optional() }).strict().optional(),
            executor: z
              .object({ instances: z.number().optional(), cores: z.number().optional(), memory: Size.optional() })
              .strict()
              .optional(),
          })
          .strict()
          .optional(),
        spark_conf: z.record(z.string(), z.string()).optional(),
        args: z.array(z.string()).optional(),
      })
      .strict(),
  })
  .strict();

export type ReferenceSubmitBody = z.infer<typeof ReferenceSubmitBody>;

export interface CoreEtlDefaults {
  /** `{version}` is replaced by core_etl.version. */
  jarTemplate: string;
  mainClass: string;
}

export function isReferenceBody(body: unknown): boolean {
  return typeof body === 'object' && body !== null && 'config' in body;
}

/** Where a JobSpec field came from in the reference body, so errors name the field the client sent. */
export function referencePath(jobSpecPath: string): string {
  const renames: [string, string][] = [
    ['application.jobSpec', 'config.core_etl.job_spec'],
    ['engineVersion', 'config.spark_version'],
    ['jobType', 'config.job_type'],
    ['resources', 'config.resources'],
    ['sparkConf', 'config.spark_conf'],
    ['args', 'config.args'],
  ];
  for (const [from, to] of renames) {
    if (jobSpecPath === from || jobSpecPath.startsWith(`${from}.`)) return to + jobSpecPath.slice(from.length);
  }
  return jobSpecPath;
}

/** Maps the reference body onto JobSpec fields; the JobSpec schema then validates the result. */
export function fromReferenceBody(body: ReferenceSubmitBody, defaults: CoreEtlDefaults): JobSpecInput {
  const { config } = body;
  const etl = config.core_etl;
  return {
    name: body.name,
    engineVersion: config.spark_version,
    jobType: config.job_type.toLowerCase() as 'batch' | 'streaming',
    application: {
      type: 'coreEtl',
      jarPath: etl.jar_path ?? defaults.jarTemplate.replaceAll('{version}', etl.version),
      mainClass: etl.main_class ?? defaults.mainClass,
      // Its shape is the JobSpec schema's to check (schema/core-etl.ts), with the others.
      jobSpec: etl.job_spec as CoreEtlJobSpecInput,
    },
    args: config.args ?? [],
    sparkConf: config.spark_conf ?? {},
    resources: { driver: config.resources?.driver ?? {}, executor: config.resources?.executor ?? {} },
  };
}

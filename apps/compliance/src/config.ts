import { Type } from '@sinclair/typebox';
import { InternalAuthConfig, loadConfig, serviceBaseConfig, serviceDatabaseConfig } from '@wapi/service-kit';

export const SERVICE = 'compliance';

/** Every variable compliance reads (the README's configuration table lists them). */
export const configSchema = {
  ...serviceBaseConfig(SERVICE),
  ...serviceDatabaseConfig(SERVICE),
  ...InternalAuthConfig,
  AUDIT_RETENTION_DAYS: Type.Integer({
    minimum: 1,
    maximum: 3_650,
    default: 90,
    description: 'days audit entries are kept unless a workspace sets its own retention',
  }),
  RETENTION_SWEEP_INTERVAL_MS: Type.Integer({
    minimum: 1_000,
    default: 3_600_000,
    description: 'how often the audit retention sweeper runs',
  }),
  WORKER_CONCURRENCY: Type.Integer({
    minimum: 1,
    maximum: 500,
    default: 200,
    description: 'jobs each queue consumer runs at once (audit appends of one tick share one batch insert)',
  }),
};

export type Config = ReturnType<typeof loadServiceConfig>;

/** Parses the environment once; throws ConfigError listing every problem. */
export function loadServiceConfig(env: Readonly<Record<string, string | undefined>>) {
  return loadConfig(SERVICE, configSchema, env);
}

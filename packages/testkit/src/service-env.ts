import { SERVICES, type ServiceName } from '@wapi/contracts';
import type { TestContext } from './context';
import { internalAuthEnv } from './internal-keys';

/**
 * The environment every test starts `service` with, on `ctx`'s Redis, database and key
 * prefix: `PORT` 0, `LOG_LEVEL` silent, and (as services.json implies, like the conformance
 * suite) `MONGO_*` when the service owns a database and the test key set when it uses
 * internal auth. One place for it, so the harnesses cannot drift apart. `extra` adds
 * variables or overrides these.
 */
export function serviceEnv(
  ctx: TestContext,
  service: ServiceName,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    REDIS_URL: ctx.infra.redisUrl,
    ...(SERVICES[service].database ? { MONGO_URL: ctx.mongoUrl, MONGO_DB: ctx.dbName } : {}),
    KEY_PREFIX: ctx.prefix,
    PORT: '0',
    LOG_LEVEL: 'silent',
    ...(SERVICES[service].internalAuth ? internalAuthEnv(service) : {}),
    ...extra,
  };
}

import { createService, redisCheck } from '@wapi/service-kit';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import type { DestinationStream } from 'pino';
import pkg from '../package.json' with { type: 'json' };
import { type Config, SERVICE } from './config';

export interface AppDeps {
  config: Config;
  /** A `request`-role connection (fails fast while Redis is down). */
  redis: Redis;
  logStream?: DestinationStream;
}

/**
 * Builds meta-sandbox: no I/O at import, every dependency passed in. Its emulated Meta
 * state lives in memory (it stands in for Meta, it owns no wapi data), so it has no
 * database; Redis carries its webhook delivery schedule.
 */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = createService({
    service: SERVICE,
    version: pkg.version,
    logLevel: deps.config.LOG_LEVEL,
    readinessTimeoutMs: deps.config.READINESS_TIMEOUT_MS,
    checks: [redisCheck(deps.redis)],
    ...(deps.logStream ? { logStream: deps.logStream } : {}),
  });
  return app;
}

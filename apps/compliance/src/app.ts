import { createService, redisCheck } from '@wapi/service-kit';
import { mongoCheck } from '@wapi/store';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import type { Db } from 'mongodb';
import type { DestinationStream } from 'pino';
import pkg from '../package.json' with { type: 'json' };
import { type Config, SERVICE } from './config';

export interface AppDeps {
  config: Config;
  /** A `request`-role connection (fails fast while Redis is down). */
  redis: Redis;
  db: Db;
  logStream?: DestinationStream;
}

/** Builds compliance: no I/O at import, every dependency passed in. */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = createService({
    service: SERVICE,
    version: pkg.version,
    logLevel: deps.config.LOG_LEVEL,
    readinessTimeoutMs: deps.config.READINESS_TIMEOUT_MS,
    checks: [redisCheck(deps.redis), mongoCheck(deps.db)],
    ...(deps.logStream ? { logStream: deps.logStream } : {}),
  });
  return app;
}

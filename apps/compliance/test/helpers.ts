import type { ServiceName } from '@wapi/contracts';
import { closeRedis, createRedis, type ServiceApp } from '@wapi/service-kit';
import { migrate } from '@wapi/store';
import { mintServiceToken, serviceEnv, type TestContext, testKeySet } from '@wapi/testkit';
import pino from 'pino';
import { buildApp } from '../src/app';
import { loadServiceConfig } from '../src/config';
import { INDEXES } from '../src/data/indexes';

const silent = pino({ level: 'silent' });

export interface ComplianceUnderTest {
  app: ServiceApp;
  /** Calls an internal route as `caller` (default gateway) with a freshly minted token. */
  call(
    method: 'GET' | 'POST' | 'PUT',
    url: string,
    body?: unknown,
    caller?: ServiceName,
  ): Promise<{ statusCode: number; json(): unknown; body: string; headers: Record<string, unknown> }>;
  close(): Promise<void>;
}

/**
 * A compliance instance on the test file's database and prefix, with its queue consumers
 * running (its own worker-role connection), as `server.ts` builds it.
 */
export async function startCompliance(
  ctx: TestContext,
  options: { now?: () => Date; env?: Record<string, string> } = {},
): Promise<ComplianceUnderTest> {
  const config = loadServiceConfig(serviceEnv(ctx, 'compliance', options.env));
  await migrate(ctx.db, INDEXES);
  const redis = createRedis(ctx.infra.redisUrl, 'request', silent);
  const workerRedis = createRedis(ctx.infra.redisUrl, 'worker', silent);
  const app = await buildApp({
    config,
    redis,
    workerRedis,
    db: ctx.db,
    log: silent,
    ...(options.now ? { now: options.now } : {}),
  });
  await app.ready();
  return {
    app,
    async call(method, url, body, caller = 'gateway') {
      const token = mintServiceToken(testKeySet().get(caller)!.privateKey, {
        iss: caller,
        aud: 'compliance',
      });
      return app.inject({
        method,
        url,
        headers: { authorization: `Bearer ${token}` },
        ...(body !== undefined ? { payload: body as object } : {}),
      });
    },
    async close() {
      await app.close();
      await closeRedis(workerRedis);
      await closeRedis(redis);
    },
  };
}

import { directoryKey, type QueueName, queuePrefix } from '@wapi/contracts';
import { closeRedis, createRedis, type ServiceApp } from '@wapi/service-kit';
import { internalAuthEnv, mintServiceToken, type TestContext, testKeySet } from '@wapi/testkit';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import pino from 'pino';
import { buildApp } from '../src/app';
import { loadServiceConfig } from '../src/config';

export const silent = pino({ level: 'silent' });
export const SECRET_OLD = 'app-secret-old-0123456789abcdef';
export const SECRET_NEW = 'app-secret-new-fedcba9876543210';
export const VERIFY_TOKEN = 'verify-token-for-tests';

export interface IngestUnderTest {
  app: ServiceApp;
  internal(
    method: 'GET' | 'POST',
    url: string,
    body?: unknown,
  ): Promise<{ statusCode: number; json(): unknown }>;
  close(): Promise<void>;
}

/** webhook-ingest on the test file's database and prefix, as `server.ts` builds it. */
export async function startIngest(
  ctx: TestContext,
  env: Record<string, string> = {},
): Promise<IngestUnderTest> {
  const config = loadServiceConfig({
    REDIS_URL: ctx.infra.redisUrl,
    MONGO_URL: ctx.mongoUrl,
    MONGO_DB: ctx.dbName,
    KEY_PREFIX: ctx.prefix,
    LOG_LEVEL: 'silent',
    PORT: '0',
    META_APP_SECRETS: `${SECRET_OLD},${SECRET_NEW}`,
    WEBHOOK_VERIFY_TOKEN: VERIFY_TOKEN,
    // Tests run re-drives themselves (app.webhookRedrive), so no timer races them.
    REDRIVE_INTERVAL_MS: '3600000',
    REDRIVE_GRACE_MS: '0',
    ...internalAuthEnv('webhook-ingest'),
    ...env,
  });
  const redis = createRedis(ctx.infra.redisUrl, 'request', silent);
  const app = await buildApp({ config, redis, db: ctx.db, log: silent });
  await app.ready();
  return {
    app,
    async internal(method, url, body) {
      const token = mintServiceToken(testKeySet().get('gateway')!.privateKey, {
        iss: 'gateway',
        aud: 'webhook-ingest',
      });
      return app.inject({
        method,
        url,
        headers: { authorization: `Bearer ${token}` },
        ...(body === undefined ? {} : { payload: body as object }),
      });
    },
    async close() {
      await app.close();
      await closeRedis(redis);
    },
  };
}

/** Registers `phoneNumberId` → `workspaceId` in the directory, as gateway does. */
export async function connectNumber(
  ctx: TestContext,
  phoneNumberId: string,
  workspaceId: string,
  redis: Redis = ctx.redis,
): Promise<void> {
  await redis.set(
    directoryKey(ctx.prefix, phoneNumberId),
    JSON.stringify({ phoneNumberId, workspaceId, wabaId: '100000000000001' }),
  );
}

/** The jobs waiting in one of our output queues. */
export async function jobsIn(
  ctx: TestContext,
  name: QueueName,
  redis: Redis = ctx.redis,
): Promise<{ id: string; data: Record<string, unknown> }[]> {
  const connection = redis.duplicate();
  const queue = new Queue(name, { connection, prefix: queuePrefix(ctx.prefix, name) });
  try {
    const jobs = await queue.getJobs(
      ['waiting', 'delayed', 'prioritized', 'active', 'completed', 'failed'],
      0,
      -1,
    );
    return jobs.map((j) => ({ id: String(j.id), data: j.data as Record<string, unknown> }));
  } finally {
    await queue.close();
    connection.disconnect();
  }
}

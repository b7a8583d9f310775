import { directoryKey, type QueueName, queuePrefix, wabaDirectoryKey } from '@wapi/contracts';
import { closeRedis, createRedis, type ServiceApp } from '@wapi/service-kit';
import {
  mintServiceToken,
  type StartedService,
  serviceEnv,
  startVault as startBuiltVault,
  type TestContext,
  testKeySet,
} from '@wapi/testkit';
import { createVaultClient, type VaultClient } from '@wapi/vault-client';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import pino, { type Logger } from 'pino';
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
  log: Logger = silent,
): Promise<IngestUnderTest> {
  const config = loadServiceConfig(
    serviceEnv(ctx, 'webhook-ingest', {
      DEV_META_APP_SECRETS: `${SECRET_OLD},${SECRET_NEW}`,
      WEBHOOK_VERIFY_TOKEN: VERIFY_TOKEN,
      // Tests run re-drives themselves (app.webhookRedrive), so no timer races them.
      REDRIVE_INTERVAL_MS: '3600000',
      REDRIVE_GRACE_MS: '0',
      ...env,
    }),
  );
  const redis = createRedis(ctx.infra.redisUrl, 'request', silent);
  let app: ServiceApp;
  try {
    app = await buildApp({ config, redis, db: ctx.db, log });
  } catch (error) {
    await closeRedis(redis);
    throw error;
  }
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

/** Registers `wabaId` → `workspaceId` in the WABA directory, as gateway would (contracts' directory.ts). */
export async function connectWaba(ctx: TestContext, wabaId: string, workspaceId: string): Promise<void> {
  await ctx.redis.set(wabaDirectoryKey(ctx.prefix, wabaId), JSON.stringify({ wabaId, workspaceId }));
}

/** The real vault, built, as its own process (testkit), with a client authenticated as gateway. */
export async function startVault(ctx: TestContext): Promise<
  StartedService & {
    /** A client authenticated as gateway, the service that writes app secrets. */
    asGateway: VaultClient;
  }
> {
  const vault = await startBuiltVault(ctx);
  const gatewayKey = testKeySet().get('gateway')!.privateKey;
  const asGateway = createVaultClient({
    baseUrl: vault.url,
    auth: {
      headerFor: (aud) => `Bearer ${mintServiceToken(gatewayKey, { iss: 'gateway', aud })}`,
    },
    prefix: ctx.prefix,
    cacheTtlMs: 0,
  });
  return {
    ...vault,
    asGateway,
    async stop() {
      await asGateway.close();
      await vault.stop();
    },
  };
}

/**
 * The value of one sample in a Prometheus text exposition: `name` with exactly the given
 * labels besides the service's default `service` label; 0 when the sample is absent (a
 * counter that never moved).
 */
export function sampleOf(text: string, name: string, labels: Record<string, string> = {}): number {
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const found = Object.fromEntries(
      [...(match[2] ?? '').matchAll(/([a-zA-Z_]+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]),
    );
    delete found.service;
    if (JSON.stringify(Object.entries(found).sort()) === JSON.stringify(Object.entries(labels).sort()))
      return Number(match[3]);
  }
  return 0;
}

/** The dedupe keys of every item recorded as emitted (the done marks' `seen`), e.g. `m~<wamid>`. */
export async function emittedKeys(ctx: TestContext): Promise<Set<string>> {
  const marks = await ctx.db.collection<{ seen: string[] }>('webhook_done').find({}).toArray();
  return new Set(marks.flatMap((m) => m.seen.map((s) => s.split('|')[0] as string)));
}

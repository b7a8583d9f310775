import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { type AuditV1, queuePrefix, type ServiceName } from '@wapi/contracts';
import { createLogger } from '@wapi/service-kit';
import { mintServiceToken, serviceEnv, type TestContext, testKeySet } from '@wapi/testkit';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import type { Db } from 'mongodb';
import { buildApp } from '../src/app';
import { loadServiceConfig } from '../src/config';

/** A fresh 64-hex key-encryption key. */
export const newKey = () => randomBytes(32).toString('hex');

/** Everything vault needs, for `ctx`'s database and key prefix. */
export function vaultEnv(ctx: TestContext, extra: Record<string, string> = {}): Record<string, string> {
  return serviceEnv(ctx, 'vault', extra);
}

export interface Harness {
  app: Awaited<ReturnType<typeof buildApp>>;
  /** Calls vault as `caller` (signed with that service's test key). */
  call(
    caller: ServiceName,
    method: 'GET' | 'PUT' | 'POST' | 'DELETE',
    url: string,
    body?: unknown,
    // biome-ignore lint/suspicious/noExplicitAny: tests assert answers field by field (toMatchObject)
  ): Promise<{ statusCode: number; body: string; json(): any }>;
  /** Every log line written so far (the app logs at `trace` into memory). */
  logs(): string;
  close(): Promise<void>;
}

/** Builds vault against `ctx` (or `db`) with `env`, logging everything into memory. */
export async function startVault(
  ctx: TestContext,
  env: Record<string, string>,
  db: Db = ctx.db,
): Promise<Harness> {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  const config = loadServiceConfig({ ...env, LOG_LEVEL: 'trace' });
  const log = createLogger('vault', 'trace', stream);
  const redis = new Redis(ctx.infra.redisUrl, { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
  redis.on('error', () => undefined);
  await new Promise<void>((resolve) => redis.once('ready', () => resolve()));
  const app = await buildApp({ config, redis, db, log });
  await app.ready();
  const keys = testKeySet();
  return {
    app,
    async call(caller, method, url, body) {
      const token = mintServiceToken(keys.get(caller)!.privateKey, { iss: caller, aud: 'vault' });
      return app.inject({
        method,
        url,
        headers: { authorization: `Bearer ${token}` },
        ...(body === undefined ? {} : { payload: body as object }),
      });
    },
    logs: () => lines.join(''),
    async close() {
      await app.close();
      redis.disconnect();
    },
  };
}

/** The audit events vault queued under `ctx`'s prefix so far. */
export async function auditEvents(ctx: TestContext): Promise<AuditV1[]> {
  const connection = new Redis(ctx.infra.redisUrl, { maxRetriesPerRequest: null });
  const queue = new Queue<AuditV1>('audit.v1', { connection, prefix: queuePrefix(ctx.prefix, 'audit.v1') });
  try {
    const jobs = await queue.getJobs(['waiting', 'delayed', 'paused', 'prioritized'], 0, -1);
    return jobs.map((job) => job.data);
  } finally {
    await queue.close();
    connection.disconnect();
  }
}

export const secretUrl = (ws: string, purpose: string, recordId: string) =>
  `/internal/v1/workspaces/${ws}/secrets/${purpose}/${recordId}`;

import { randomBytes } from 'node:crypto';
import { prefixPattern } from '@wapi/contracts';
import { Redis } from 'ioredis';
import { type Db, MongoClient } from 'mongodb';
import { afterAll, beforeAll, inject } from 'vitest';
import type { InfraEnv } from './infra';
import './provided';

/** What one test file owns: its own database and its own Redis key/queue prefix. */
export interface TestContext {
  readonly infra: InfraEnv;
  /** Key prefix name for KEY_PREFIX: every key and queue of the file starts with `<prefix>:`. */
  readonly prefix: string;
  readonly dbName: string;
  /** MongoDB URL naming this file's database. */
  readonly mongoUrl: string;
  readonly mongo: MongoClient;
  readonly db: Db;
  /** A plain connection for assertions; services under test get their own. */
  readonly redis: Redis;
}

export function uniqueName(label = 't'): string {
  return `${label.replace(/[^a-z0-9]/gi, '').slice(0, 12) || 't'}_${randomBytes(5).toString('hex')}`;
}

/** `mongodb://host:port/` + database name, keeping any query string. */
export function withDatabase(url: string, dbName: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${dbName}`;
  return parsed.toString();
}

/**
 * Gives the calling test file its own database and key prefix, created before its tests
 * and dropped after them, so test files run in parallel without seeing each other.
 * Call once at the top level of a test file.
 */
export function useTestContext(label = 't'): TestContext {
  const ctx = {} as { -readonly [K in keyof TestContext]: TestContext[K] };
  beforeAll(async () => {
    const infra = inject('infra');
    const name = uniqueName(label);
    ctx.infra = infra;
    ctx.prefix = name;
    ctx.dbName = name;
    ctx.mongoUrl = withDatabase(infra.mongoUrl, name);
    ctx.mongo = await new MongoClient(infra.mongoUrl, { serverSelectionTimeoutMS: 5_000 }).connect();
    ctx.db = ctx.mongo.db(name);
    ctx.redis = new Redis(infra.redisUrl, { maxRetriesPerRequest: 2 });
  });
  afterAll(async () => {
    await ctx.db?.dropDatabase().catch(() => undefined);
    await ctx.mongo?.close();
    if (ctx.redis) {
      await deleteKeys(ctx.redis, prefixPattern(ctx.prefix));
      ctx.redis.disconnect();
    }
  });
  return ctx;
}

/** Deletes every key matching `pattern` (SCAN, never KEYS). */
export async function deleteKeys(redis: Redis, pattern: string): Promise<number> {
  let cursor = '0';
  let deleted = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
    cursor = next;
    if (keys.length > 0) deleted += await redis.unlink(...keys);
  } while (cursor !== '0');
  return deleted;
}

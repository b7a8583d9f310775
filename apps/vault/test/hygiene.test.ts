import { randomBytes } from 'node:crypto';
import { prefixPattern } from '@wapi/contracts';
import { createLogger } from '@wapi/service-kit';
import { useTestContext } from '@wapi/testkit';
import { Redis } from 'ioredis';
import { MongoClient } from 'mongodb';
import { afterAll, describe, expect, it } from 'vitest';
import { keyRingOf } from '../src/app';
import { queueAuditor } from '../src/audit';
import { loadServiceConfig } from '../src/config';
import { kekUsage } from '../src/data/kek-usage.repository';
import { sealedCache } from '../src/data/sealed-cache';
import { secretsRepository } from '../src/data/secrets.repository';
import { rewrapAll } from '../src/workers/rewrap';
import { type Harness, newKey, secretUrl, startVault, vaultEnv } from './harness';

const ctx = useTestContext('vault-hygiene');
const canary = () => `CANARY${randomBytes(16).toString('hex')}`;
/** Every way a canary could be written down: as is, base64, base64url, hex. */
const encodings = (value: string) => {
  const bytes = Buffer.from(value);
  return [value, bytes.toString('base64'), bytes.toString('base64url'), bytes.toString('hex')];
};

/** Every value of every key under the test's prefix, as text. */
async function dumpRedis(redis: Redis, prefix: string): Promise<string> {
  const out: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', prefixPattern(prefix), 'COUNT', 500);
    cursor = next;
    for (const key of keys) {
      const type = await redis.type(key);
      if (type === 'string') out.push(String(await redis.getBuffer(key)));
      else if (type === 'hash') out.push(JSON.stringify(await redis.hgetall(key)));
      else if (type === 'list') out.push(JSON.stringify(await redis.lrange(key, 0, -1)));
      else if (type === 'set') out.push(JSON.stringify(await redis.smembers(key)));
      else if (type === 'zset') out.push(JSON.stringify(await redis.zrange(key, 0, -1)));
      else if (type === 'stream') out.push(JSON.stringify(await redis.xrange(key, '-', '+')));
      out.push(key);
    }
  } while (cursor !== '0');
  return out.join('\n');
}

describe('secret hygiene', () => {
  const harnesses: Harness[] = [];
  const bodies: string[] = [];
  afterAll(async () => {
    for (const h of harnesses) await h.close();
  });

  it('leaves no plaintext in the database, Redis, logs or answers after every path', async () => {
    const master = newKey();
    const canaries = [canary(), canary(), canary(), canary()];
    const [first, rotated, appSecret, failed] = canaries as [string, string, string, string];
    const vault = await startVault(ctx, vaultEnv(ctx, { TOKEN_MASTER_KEY: master }));
    harnesses.push(vault);
    const token = secretUrl('ws_canary', 'meta.access_token', 'waba_1');
    const secret = secretUrl('ws_canary', 'meta.app_secret', 'app_1');
    const record = async (res: Promise<{ statusCode: number; body: string }>, status: number) => {
      const r = await res;
      bodies.push(r.body);
      expect(r.statusCode, r.body).toBe(status);
      return r;
    };

    // put, get, rotate, get
    await record(vault.call('gateway', 'PUT', token, { value: first }), 200);
    await record(vault.call('message-sender', 'GET', token), 200);
    await record(vault.call('gateway', 'POST', `${token}/rotate`, { value: rotated }), 200);
    await record(vault.call('gateway', 'GET', token), 200);
    await record(vault.call('gateway', 'PUT', secret, { value: appSecret }), 200);
    // refused access, both ways
    await record(vault.call('webhook-ingest', 'GET', token), 403);
    await record(vault.call('message-sender', 'PUT', secret, { value: failed }), 403);

    // rewrap under a new key version, then read under the minimum raised to it
    const env2 = vaultEnv(ctx, { TOKEN_MASTER_KEY: master, VAULT_KEYS: `2=${newKey()}` });
    const config2 = loadServiceConfig(env2);
    const redis = new Redis(ctx.infra.redisUrl, { maxRetriesPerRequest: null });
    const log = createLogger('vault', 'trace', {
      write: (line: string) => {
        rewrapLogs.push(line);
      },
    });
    const rewrapLogs: string[] = [];
    const audit = queueAuditor({ connection: redis, prefix: ctx.prefix, log });
    const result = await rewrapAll({
      ring: keyRingOf(config2),
      store: secretsRepository(ctx.db),
      cache: sealedCache(redis, ctx.prefix),
      usage: kekUsage(ctx.db, { limit: 2 ** 32 }),
      audit,
      onProgress: (p) => log.info(p, 'rewrap progress'),
    });
    await audit.close();
    redis.disconnect();
    expect(result).toMatchObject({ kekVersion: 2, rewrapped: 2, remaining: 0 });
    const retired = await startVault(ctx, { ...env2, VAULT_MIN_KEY_VERSION: '2' });
    harnesses.push(retired);
    const after = await record(retired.call('message-sender', 'GET', token), 200);
    expect(JSON.parse(after.body)).toMatchObject({ value: rotated, kekVersion: 2 });

    // backend failure: the database is unreachable while a value is being stored
    const deadMongo = new MongoClient('mongodb://127.0.0.1:1/', { serverSelectionTimeoutMS: 300 });
    const broken = await startVault(
      ctx,
      vaultEnv(ctx, { TOKEN_MASTER_KEY: master }),
      deadMongo.db('nowhere'),
    );
    harnesses.push(broken);
    const down = await record(
      broken.call('gateway', 'PUT', secretUrl('ws_canary', 'meta.access_token', 'waba_2'), { value: failed }),
      500,
    );
    expect(JSON.parse(down.body).error.code).toBe('INTERNAL_ERROR');
    await deadMongo.close();

    // The scan: every document of vault's database, every key of its prefix, every log line.
    const documents: string[] = [];
    for (const { name } of await ctx.db.listCollections().toArray())
      documents.push(JSON.stringify(await ctx.db.collection(name).find({}).toArray()));
    const metrics = await Promise.all(
      harnesses.map(async (h) => (await h.app.inject({ method: 'GET', url: '/metrics' })).body),
    );
    const places = {
      'metric labels': metrics.join('\n'),
      database: documents.join('\n'),
      redis: await dumpRedis(ctx.redis, ctx.prefix),
      logs: [...harnesses.map((h) => h.logs()), ...rewrapLogs].join('\n'),
      'error answers': bodies.filter((b) => b.includes('"error"')).join('\n'),
    };
    // The scan can see: the database holds the envelopes, the logs hold the requests.
    expect(places.database).toContain('vault:v2:');
    expect(places.logs).toContain('/internal/v1/workspaces/ws_canary/secrets');
    expect(places.redis).toContain('vault.secret.read');
    expect(places['metric labels']).toContain('http_request_duration_seconds');
    for (const [where, text] of Object.entries(places))
      for (const value of canaries)
        for (const form of encodings(value))
          expect(text.includes(form), `${form} found in ${where}`).toBe(false);
  });
});

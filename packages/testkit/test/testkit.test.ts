import { keyOf, prefixPattern, queuePrefix } from '@wapi/contracts';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { deleteKeys, useTestContext } from '../src/context';
import { parseEnvFile } from '../src/infra';
import { startPrivateRedis } from '../src/redis-server';
import { waitFor } from '../src/wait';

const ctx = useTestContext('testkit');

describe('testkit', () => {
  it('gives the file a database and a prefix of its own', () => {
    expect(ctx.dbName).toMatch(/^testkit_[0-9a-f]{10}$/);
    expect(ctx.prefix).toBe(ctx.dbName);
    expect(ctx.mongoUrl).toContain(`/${ctx.dbName}`);
  });

  it('deletes only the keys under a prefix', async () => {
    await ctx.redis.mset(
      keyOf(ctx.prefix, 'test', 'a'),
      '1',
      queuePrefix(ctx.prefix, 'message.send.v1'),
      '2',
      `other-${ctx.prefix}`,
      '3',
      `${ctx.prefix}x:a`,
      '4',
    );
    expect(await deleteKeys(ctx.redis, prefixPattern(ctx.prefix))).toBe(2);
    expect(await ctx.redis.get(`${ctx.prefix}x:a`)).toBe('4');
    await ctx.redis.del(`${ctx.prefix}x:a`);
    expect(await ctx.redis.get(`other-${ctx.prefix}`)).toBe('3');
    await ctx.redis.del(`other-${ctx.prefix}`);
  });

  it('runs a private redis-server that can be stopped and started on the same port', async () => {
    const redis = await startPrivateRedis();
    const client = new Redis(redis.url, { maxRetriesPerRequest: 0, retryStrategy: () => 50 });
    client.on('error', () => undefined);
    try {
      expect(await client.ping()).toBe('PONG');
      await redis.stop();
      await expect(client.ping()).rejects.toThrow();
      await redis.start();
      await waitFor(async () => (await client.ping()) === 'PONG', { what: 'reconnect' });
    } finally {
      client.disconnect();
      await redis.dispose();
    }
  });

  it('parses the infra env file', () => {
    expect(parseEnvFile('WAPI_REDIS_URL=redis://127.0.0.1:1\n# comment\nAWS_REGION=us-east-1\n')).toEqual({
      WAPI_REDIS_URL: 'redis://127.0.0.1:1',
      AWS_REGION: 'us-east-1',
    });
  });
});

import { keyOf } from '@wapi/contracts';
import { Redis } from 'ioredis';
import { expect, inject } from 'vitest';
import type { TestContext } from '../src/context';
import { waitFor } from '../src/wait';

/**
 * Both isolation files write the same collection name and the same Redis key name in
 * their own context, meet at a barrier so that both have written before either reads,
 * then check that each sees only its own data.
 */
export async function writeMeetAndCheck(ctx: TestContext, me: string): Promise<void> {
  await ctx.db.collection('shared_name').insertOne({ writer: me });
  await ctx.redis.set(keyOf(ctx.prefix, 'test', 'shared_name'), me);

  const barrier = new Redis(ctx.infra.redisUrl);
  try {
    const key = `wapi-test:isolation-barrier:${inject('runId')}`;
    await barrier.incr(key);
    await barrier.expire(key, 120);
    await waitFor(async () => Number(await barrier.get(key)) >= 2, {
      timeoutMs: 30_000,
      what: 'the other isolation file to write its data (files must run in parallel)',
    });
  } finally {
    barrier.disconnect();
  }

  const docs = await ctx.db
    .collection('shared_name')
    .find({}, { projection: { _id: 0 } })
    .toArray();
  expect(docs).toEqual([{ writer: me }]);
  expect(await ctx.redis.get(keyOf(ctx.prefix, 'test', 'shared_name'))).toBe(me);
}

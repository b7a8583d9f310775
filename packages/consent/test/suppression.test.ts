import { useTestContext } from '@wapi/testkit';
import { describe, expect, it } from 'vitest';
import {
  checkSuppression,
  markSuppressionReady,
  publishSuppression,
  suppressionKey,
  suppressionReadyKey,
} from '../src/index';

const ctx = useTestContext('consent');
const ws = 'ws_consent';

describe('checkSuppression', () => {
  it('says not ready until the list was rebuilt, whatever the hash holds', async () => {
    await publishSuppression(ctx.redis, ctx.prefix, ws, [
      { contact: '15550000001', flags: { all: true, marketing: false }, version: 1 },
    ]);
    const check = await checkSuppression(ctx.redis, {
      prefix: ctx.prefix,
      workspaceId: ws,
      contacts: ['15550000001'],
      category: 'utility',
    });
    expect(check.ready).toBe(false);
    await markSuppressionReady(ctx.redis, ctx.prefix);
    expect(
      (
        await checkSuppression(ctx.redis, {
          prefix: ctx.prefix,
          workspaceId: ws,
          contacts: [],
          category: 'utility',
        })
      ).ready,
    ).toBe(true);
  });

  it('blocks every category after a full opt-out and only marketing after a marketing one', async () => {
    await publishSuppression(ctx.redis, ctx.prefix, ws, [
      { contact: '15550000011', flags: { all: true, marketing: false }, version: 10 },
      { contact: '15550000012', flags: { all: false, marketing: true }, version: 10 },
      { contact: '15550000013', flags: { all: false, marketing: false }, version: 10 },
    ]);
    await markSuppressionReady(ctx.redis, ctx.prefix);
    const contacts = ['15550000011', '15550000012', '15550000013', '15550000014'];
    const marketing = await checkSuppression(ctx.redis, {
      prefix: ctx.prefix,
      workspaceId: ws,
      contacts,
      category: 'marketing',
    });
    const utility = await checkSuppression(ctx.redis, {
      prefix: ctx.prefix,
      workspaceId: ws,
      contacts,
      category: 'utility',
    });
    expect(marketing).toEqual({ ready: true, suppressed: [true, true, false, false] });
    expect(utility).toEqual({ ready: true, suppressed: [true, false, false, false] });
    // Another workspace's list is another key.
    const other = await checkSuppression(ctx.redis, {
      prefix: ctx.prefix,
      workspaceId: 'ws_other',
      contacts,
      category: 'marketing',
    });
    expect(other.suppressed).toEqual([false, false, false, false]);
  });

  it('never lets an older version replace a newer one', async () => {
    const contact = '15550000021';
    await publishSuppression(ctx.redis, ctx.prefix, ws, [
      { contact, flags: { all: false, marketing: false }, version: 200 },
    ]);
    const written = await publishSuppression(ctx.redis, ctx.prefix, ws, [
      { contact, flags: { all: true, marketing: false }, version: 100 },
    ]);
    expect(written).toBe(0);
    expect(await ctx.redis.hget(suppressionKey(ctx.prefix, ws), contact)).toBe(':200');
    await publishSuppression(ctx.redis, ctx.prefix, ws, [
      { contact, flags: { all: true, marketing: true }, version: 300 },
    ]);
    expect(await ctx.redis.hget(suppressionKey(ctx.prefix, ws), contact)).toBe('am:300');
  });

  it('keeps its keys under one hash tag built with keyOf', () => {
    expect(suppressionKey('wapi', 'ws:1')).toBe('wapi:{suppression}:ws:ws%3A1');
    expect(suppressionReadyKey('wapi')).toBe('wapi:{suppression}:ready');
  });

  it('refuses a batch larger than the documented maximum', async () => {
    const contacts = Array.from({ length: 1_001 }, (_, i) => String(15550100000 + i));
    await expect(
      checkSuppression(ctx.redis, { prefix: ctx.prefix, workspaceId: ws, contacts, category: 'utility' }),
    ).rejects.toThrow(/at most 1000/);
  });
});

import { keyOf } from '@wapi/contracts';
import { closeRedis, createRedis } from '@wapi/service-kit';
import { createMongoClient } from '@wapi/store';
import {
  inboundTextMessage,
  internalAuthEnv,
  messagesChange,
  newWamid,
  signedWebhook,
  useTestContext,
  webhookEnvelope,
} from '@wapi/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app';
import { loadServiceConfig } from '../src/config';
import { connectNumber, type IngestUnderTest, jobsIn, SECRET_NEW, silent, startIngest } from './helpers';

const ctx = useTestContext('whdurable');
let ingest: IngestUnderTest;
const PNID = '106540352242922';

beforeAll(async () => {
  ingest = await startIngest(ctx);
  await connectNumber(ctx, PNID, 'ws_d');
});
afterAll(() => ingest?.close());

function webhook(wamid: string, text = 'hi') {
  return signedWebhook(
    webhookEnvelope({
      wabaId: '100000000000001',
      changes: [
        messagesChange({
          phoneNumberId: PNID,
          messages: [inboundTextMessage({ from: '15551112222', id: wamid, text })],
        }),
      ],
    }),
    SECRET_NEW,
  );
}
const inboundFor = async (wamid: string) =>
  (await jobsIn(ctx, 'message.inbound.v1')).filter((j) => j.data.wamid === wamid);

describe('durability', () => {
  it('re-drives a journaled entry nobody processed (a crash after the 200), once', async () => {
    const wamid = newWamid();
    const { body } = webhook(wamid);
    // As if the process died between the journal write and processing.
    await ctx.db.collection('webhook_journal').insertOne({
      _id: 'j-crashed-entry' as never,
      receivedAt: new Date(Date.now() - 60_000),
      body,
      expiresAt: new Date(Date.now() + 86_400_000),
    });
    expect(await inboundFor(wamid)).toHaveLength(0);
    expect((await ingest.app.webhookRedrive?.())?.journal).toBeGreaterThanOrEqual(1);
    await ingest.app.webhookProcessor?.idle();
    expect(await inboundFor(wamid)).toHaveLength(1);
    await ingest.app.webhookRedrive?.();
    await ingest.app.webhookProcessor?.idle();
    expect(await inboundFor(wamid)).toHaveLength(1);
  });

  it('still drops a retried webhook after Redis lost every dedupe key (rebuilt from the record)', async () => {
    const wamid = newWamid();
    const first = webhook(wamid);
    expect(
      (
        await ingest.app.inject({
          method: 'POST',
          url: '/api/v1/webhook',
          payload: first.body,
          headers: first.headers,
        })
      ).statusCode,
    ).toBe(200);
    await ingest.app.webhookProcessor?.idle();
    // Redis restarted empty: the dedupe keys and their ready marker are gone (jobs too, so
    // BullMQ's job-id dedupe cannot hide a double emission).
    const keys = await ctx.redis.keys(`${keyOf(ctx.prefix, 'wh-dedupe', 'x').slice(0, -2)}*`);
    expect(keys.length).toBeGreaterThan(0);
    await ctx.redis.del(...keys);
    const inboundKeys = await ctx.redis.keys(`${ctx.prefix}:{q:message.inbound.v1}*`);
    await ctx.redis.del(...inboundKeys);
    const retry = webhook(wamid);
    expect(
      (
        await ingest.app.inject({
          method: 'POST',
          url: '/api/v1/webhook',
          payload: retry.body,
          headers: retry.headers,
        })
      ).statusCode,
    ).toBe(200);
    await ingest.app.webhookProcessor?.idle();
    expect(await inboundFor(wamid)).toHaveLength(0);
  });

  it('answers 503 when the journal cannot be written, and journals nothing', async () => {
    const mongo = createMongoClient('mongodb://127.0.0.1:1/', 'wh-test', { serverSelectionTimeoutMS: 200 });
    const redis = createRedis(ctx.infra.redisUrl, 'request', silent);
    const config = loadServiceConfig({
      REDIS_URL: ctx.infra.redisUrl,
      MONGO_URL: 'mongodb://127.0.0.1:1/',
      KEY_PREFIX: ctx.prefix,
      LOG_LEVEL: 'silent',
      DEV_META_APP_SECRETS: SECRET_NEW,
      JOURNAL_TIMEOUT_MS: '1000',
      ...internalAuthEnv('webhook-ingest'),
    });
    const app = await buildApp({ config, redis, db: mongo.db('nowhere'), log: silent });
    try {
      const { body, headers } = webhook(newWamid());
      const res = await app.inject({ method: 'POST', url: '/api/v1/webhook', payload: body, headers });
      expect(res.statusCode).toBe(503);
      expect(res.json().error.code).toBe('DEPENDENCY_UNAVAILABLE');
    } finally {
      await app.close();
      await closeRedis(redis);
      await mongo.close();
    }
  });
});

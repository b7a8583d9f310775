import type { MessageSendV1 } from '@wapi/contracts';
import { gate, useTestContext, waitFor } from '@wapi/testkit';
import type { Job } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createProducer,
  createRedis,
  createService,
  createWorker,
  drainOnClose,
  type Producer,
} from '../src/index';

const ctx = useTestContext('queues');
const quiet = { warn: () => undefined, error: () => undefined };

const command: MessageSendV1 = {
  workspaceId: 'ws_1',
  messageId: 'msg_1',
  phoneNumberId: '106540352242922',
  to: '919876543210',
  category: 'utility',
  content: { type: 'text', text: { body: 'Your order shipped' } },
  acceptedAt: '2026-11-25T10:00:00.000Z',
};

describe('typed queue helpers on a real Redis', () => {
  let connection: ReturnType<typeof createRedis>;
  let producer: Producer<'message.send.v1'>;

  beforeAll(() => {
    connection = createRedis(ctx.infra.redisUrl, 'worker', quiet);
    producer = createProducer('message.send.v1', { connection, prefix: ctx.prefix, log: quiet });
  });
  afterAll(async () => {
    // The test context cleans up keys by prefix; obliterate also covers any other layout.
    await producer.queue.obliterate({ force: true });
    await producer.close();
    await connection.quit();
  });

  it('refuses to enqueue a payload that breaks the schema, naming the field', async () => {
    const bad = { ...command, to: 'not-a-number' } as MessageSendV1;
    await expect(producer.add(bad, { jobId: 'bad-1' })).rejects.toMatchObject({
      code: 'QUEUE_PAYLOAD_INVALID',
    });
    await expect(producer.add(bad, { jobId: 'bad-1' })).rejects.toThrow(/\/to/);
    expect(await producer.queue.getJob('bad-1')).toBeUndefined();
  });

  it("stores the queue's keys under KEY_PREFIX and its own hash tag, and dedupes by jobId", async () => {
    await producer.add(command, { jobId: 'msg_dedupe' });
    await producer.add(command, { jobId: 'msg_dedupe' });
    expect(await producer.queue.getJobCounts('waiting')).toMatchObject({ waiting: 1 });
    const keys = await ctx.redis.keys(`${ctx.prefix}:{q:message.send.v1}:message.send.v1:*`);
    expect(keys.length).toBeGreaterThan(0);
    await producer.queue.remove('msg_dedupe');
  });

  it('processes a valid job and fails an invalid one at once, without retries', async () => {
    const seen: string[] = [];
    const worker = createWorker(
      'message.send.v1',
      async (payload) => {
        seen.push(payload.messageId);
      },
      { connection: createRedis(ctx.infra.redisUrl, 'worker', quiet), prefix: ctx.prefix, log: quiet },
    );
    const failed: Job[] = [];
    worker.on('failed', (job) => {
      if (job) failed.push(job);
    });
    try {
      await producer.add({ ...command, messageId: 'msg_ok' }, { jobId: 'msg_ok' });
      // A payload written past the producer (an old deploy, a hand-made job) is caught on dequeue.
      await producer.queue.add('message.send.v1', { ...command, to: 'x' } as MessageSendV1, {
        jobId: 'msg_bad',
        attempts: 5,
      });
      await waitFor(() => seen.includes('msg_ok') && failed.length === 1, {
        what: 'one job done and one failed',
      });
      expect(seen).toEqual(['msg_ok']);
      expect(failed[0]!.id).toBe('msg_bad');
      expect(failed[0]!.attemptsMade).toBe(1);
      expect(failed[0]!.failedReason).toMatch(/^QUEUE_PAYLOAD_INVALID message\.send\.v1: \/to/);
      expect(await producer.queue.getJobState('msg_bad')).toBe('failed');
    } finally {
      await worker.close();
      await worker.disconnect();
    }
  });

  it('finishes a job in flight before the app finishes closing', async () => {
    const app = createService({
      service: 'svc',
      version: '0',
      logLevel: 'silent',
      readinessTimeoutMs: 100,
      checks: [],
    });
    const held = gate();
    let started = false;
    const worker = createWorker(
      'message.send.v1',
      async () => {
        started = true;
        await held.promise;
      },
      { connection: createRedis(ctx.infra.redisUrl, 'worker', quiet), prefix: ctx.prefix, log: quiet },
    );
    drainOnClose(app, worker);
    await producer.add({ ...command, messageId: 'msg_inflight' }, { jobId: 'msg_inflight' });
    await waitFor(() => started, { what: 'the job to start' });

    let closed = false;
    const closing = app.close().then(() => {
      closed = true;
    });
    // The close must wait for the job: still open while the job is held.
    await new Promise((resolve) => setImmediate(resolve));
    expect(closed).toBe(false);
    held.release();
    await closing;
    expect(await producer.queue.getJobState('msg_inflight')).toBe('completed');
    await worker.disconnect();
  });
});

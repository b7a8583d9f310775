import { AppError, type MessageSendV1 } from '@wapi/contracts';
import { type PrivateRedis, startPrivateRedis, waitFor } from '@wapi/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeRedis, createProducer, createRedis, createWorker, jobIdOf } from '../src/index';

const quiet = { warn: () => undefined, error: () => undefined };
const TIMEOUT_MS = 400;
/** Allowance for timers and the event loop on a busy 2-core machine. */
const MARGIN_MS = 300;

const command = (messageId: string): MessageSendV1 => ({
  workspaceId: 'ws_1',
  messageId,
  phoneNumberId: '106540352242922',
  to: '919876543210',
  category: 'utility',
  content: { type: 'text', text: { body: 'Your order shipped' } },
  acceptedAt: '2026-11-25T10:00:00.000Z',
});

/** Runs `add` and returns how it settled and how long it took. */
async function timed(add: () => Promise<unknown>) {
  const started = performance.now();
  const outcome = await add().then(
    (value) => ({ value, error: undefined }),
    (error: unknown) => ({ value: undefined, error }),
  );
  return { ...outcome, elapsed: performance.now() - started };
}

describe('a request-path producer while Redis is down', () => {
  let redis: PrivateRedis;
  const opened: { close(): Promise<unknown> }[] = [];
  const connect = (role: 'request' | 'worker') => {
    const client = createRedis(redis.url, role, quiet);
    opened.push({ close: () => closeRedis(client, 200) });
    return client;
  };

  beforeAll(async () => {
    redis = await startPrivateRedis();
  });
  afterAll(async () => {
    // Last opened, first closed: producers and workers before their connections.
    for (const resource of opened.reverse()) await resource.close();
    await redis.dispose();
  });

  it('rejects with DEPENDENCY_UNAVAILABLE within its timeout, then works again once Redis is back', async () => {
    const connection = connect('request');
    const producer = createProducer('message.send.v1', {
      connection,
      prefix: 'outage',
      log: quiet,
      timeoutMs: TIMEOUT_MS,
    });
    opened.push(producer);
    await producer.add(command('msg_before'), { jobId: jobIdOf('ws_1', 'msg_before') });

    await redis.stop();
    for (const messageId of ['msg_down_1', 'msg_down_2']) {
      const { error, elapsed } = await timed(() =>
        producer.add(command(messageId), { jobId: jobIdOf('ws_1', messageId) }),
      );
      expect(error).toBeInstanceOf(AppError);
      expect(error).toMatchObject({ code: 'DEPENDENCY_UNAVAILABLE', status: 503 });
      expect((error as Error).message).toMatch(/retry later with the same jobId/);
      expect(elapsed).toBeLessThan(TIMEOUT_MS + MARGIN_MS);
    }

    await redis.start();
    await waitFor(() => connection.status === 'ready', { what: 'the request connection to reconnect' });
    const job = await producer.add(command('msg_after'), { jobId: jobIdOf('ws_1', 'msg_after') });
    expect(job.id).toBe('ws_1~msg_after');
    expect(await producer.queue.getJobState('ws_1~msg_after')).toBe('waiting');
  });

  it('answers within its timeout even when created during the outage', async () => {
    await redis.stop();
    try {
      // The queue is still waiting for its first 'ready': without the timer, add() would hang.
      const producer = createProducer('message.send.v1', {
        connection: connect('request'),
        prefix: 'outage',
        log: quiet,
        timeoutMs: TIMEOUT_MS,
      });
      opened.push(producer);
      const { error, elapsed } = await timed(() => producer.add(command('msg_cold'), { jobId: 'msg_cold' }));
      expect(error).toMatchObject({ code: 'DEPENDENCY_UNAVAILABLE' });
      expect(elapsed).toBeLessThan(TIMEOUT_MS + MARGIN_MS);
    } finally {
      await redis.start();
    }
  });

  it('bounds even a worker-role connection, whose offline queue would otherwise wait for Redis', async () => {
    const connection = connect('worker');
    const producer = createProducer('message.send.v1', {
      connection,
      prefix: 'outage',
      log: quiet,
      timeoutMs: TIMEOUT_MS,
    });
    opened.push(producer);
    await producer.add(command('msg_w1'), { jobId: 'msg_w1' });
    await redis.stop();
    try {
      const { error, elapsed } = await timed(() => producer.add(command('msg_w2'), { jobId: 'msg_w2' }));
      expect(error).toMatchObject({ code: 'DEPENDENCY_UNAVAILABLE' });
      expect(elapsed).toBeLessThan(TIMEOUT_MS + MARGIN_MS);
    } finally {
      await redis.start();
    }
  });

  it('lets a worker wait out the outage and process jobs queued after Redis returns', async () => {
    const seen: string[] = [];
    const worker = createWorker(
      'message.send.v1',
      async (payload) => {
        seen.push(payload.messageId);
      },
      { connection: connect('worker'), prefix: 'outage-worker', log: quiet },
    );
    opened.push({ close: () => worker.close(true) });
    const connection = connect('request');
    const producer = createProducer('message.send.v1', { connection, prefix: 'outage-worker', log: quiet });
    opened.push(producer);
    await producer.add(command('msg_w_before'), { jobId: 'msg_w_before' });
    await waitFor(() => seen.includes('msg_w_before'), { what: 'the first job to be processed' });

    await redis.stop();
    await redis.start();
    await waitFor(() => connection.status === 'ready', { what: 'the producer connection to reconnect' });
    await producer.add(command('msg_w_after'), { jobId: 'msg_w_after' });
    await waitFor(() => seen.includes('msg_w_after'), {
      timeoutMs: 20_000,
      what: 'the worker to take a job after the outage',
    });
    expect(worker.isRunning()).toBe(true);
  });
});

import { fileURLToPath } from 'node:url';
import { markSuppressionReady } from '@wapi/consent';
import { sentKey } from '@wapi/contracts';
import {
  freePort,
  type MetaSandbox,
  type SpawnedService,
  sandboxFixture,
  serviceEnv,
  spawnService,
  startMetaSandbox,
  useTestContext,
  waitFor,
} from '@wapi/testkit';
import { afterAll, beforeAll, expect, it, onTestFinished } from 'vitest';
import { SERVICE } from '../src/config';
import { queues, receivedCounts, templateSend, tokenFile, WS } from './helpers';

const ctx = useTestContext(SERVICE);
const world = sandboxFixture({ throughputMps: 80 });
const entry = fileURLToPath(new URL('../dist/server.js', import.meta.url));
let sandbox: MetaSandbox;
const children: SpawnedService[] = [];

beforeAll(async () => {
  sandbox = await startMetaSandbox({ redisUrl: ctx.infra.redisUrl, seed: world.seed });
  await markSuppressionReady(ctx.redis, ctx.prefix);
}, 60_000);

afterAll(async () => {
  for (const child of children) if (child.child.exitCode === null) child.child.kill('SIGKILL');
  await sandbox?.stop();
});

async function startWorker(file: string): Promise<SpawnedService & { url: string }> {
  const port = await freePort();
  const child = spawnService(
    entry,
    serviceEnv(ctx, SERVICE, {
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'error',
      GRAPH_BASE_URL: sandbox.baseUrl,
      GRAPH_TIMEOUT_MS: '2000',
      META_ACCESS_TOKEN_FILE: file,
      SENDER_LOCK_MS: '2000',
      SENDER_SETTLE_WAIT_MS: '5000',
    }),
  );
  children.push(child);
  await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/health/ready`)).ok, {
    timeoutMs: 20_000,
    what: `message-sender on ${port} to be ready (output: ${child.output().slice(-500)})`,
  });
  return Object.assign(child, { url: `http://127.0.0.1:${port}` });
}

/**
 * Stands in for the status-webhook path (sandbox -> webhook-ingest -> gateway): every message
 * the sandbox has gets its wamid recorded under `sentKey`, as gateway will do when it applies
 * the message's status webhook (`biz_opaque_callback_data` = message id).
 */
function statusWebhooks() {
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      try {
        const pipeline = ctx.redis.pipeline();
        for (const [id, [m]] of await receivedCounts(sandbox))
          if (m) pipeline.set(sentKey(ctx.prefix, WS, id), m.wamid, 'PX', 3_600_000);
        await pipeline.exec();
      } catch {
        // The sandbox stopped (a failed test's teardown): nothing more to report.
        stopped = true;
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  })();
  return async () => {
    stopped = true;
    await loop;
  };
}

it('a worker killed with SIGKILL mid-stream leaves every message sent exactly once: the sandbox has each once, and each has one `sent` event with its wamid', async () => {
  const q = queues(ctx);
  const file = tokenFile(world.accessToken);
  const messages = Array.from({ length: 300 }, (_, i) =>
    templateSend(world.phoneNumberId, `1555600${String(i).padStart(4, '0')}`),
  );
  await q.enqueue(messages);
  const stopWebhooks = statusWebhooks();
  onTestFinished(stopWebhooks);

  const first = await startWorker(file);
  await waitFor(async () => (await receivedCounts(sandbox)).size >= 80, {
    timeoutMs: 20_000,
    what: 'the first worker to send 80 messages',
  });
  first.child.kill('SIGKILL');
  await first.exited;
  const atKill = (await receivedCounts(sandbox)).size;
  expect(atKill).toBeLessThan(messages.length);

  const second = await startWorker(file);
  // Every message ends with an event; a call in flight at the kill is settled from its
  // status webhook, never resent. Nothing is dead-lettered.
  const ids = messages.map((m) => m.messageId);
  const events = await waitFor(
    async () => {
      const failed = await q.send.queue.getFailed();
      if (failed.length > 0)
        throw new Error(
          `dead-lettered: ${failed.map((j) => `${j.data.messageId}: ${j.failedReason}`).join('; ')}`,
        );
      const events = await q.emitted();
      return ids.every((id) => events.has(id)) ? events : false;
    },
    { timeoutMs: 45_000, intervalMs: 250, what: 'every message to be sent' },
  );
  await stopWebhooks();

  const received = await receivedCounts(sandbox);
  for (const id of ids) {
    const times = received.get(id)?.length ?? 0;
    expect(times, `message ${id} reached the sandbox ${times} times`).toBe(1);
    expect(events.get(id)?.[0]).toMatchObject({ status: 'sent', wamid: received.get(id)?.[0]?.wamid });
  }
  const metrics = await (await fetch(`${second.url}/metrics`)).text();
  const count = (outcome: string) =>
    metrics.match(new RegExp(`^sender_sends_total\\{[^}]*outcome="${outcome}"[^}]*\\} (\\d+)`, 'm'))?.[1] ??
    '0';
  console.info(
    `crash test: ${atKill} received before the kill, ${received.size} in all; in doubt: ${count('settled')} settled from their status webhook, ${count('resent_after_doubt')} sent again (never reached Meta)`,
  );
  await q.close();
}, 90_000);

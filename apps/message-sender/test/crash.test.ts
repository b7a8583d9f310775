import { fileURLToPath } from 'node:url';
import { markSuppressionReady } from '@wapi/consent';
import {
  freePort,
  internalAuthEnv,
  type MetaSandbox,
  type SpawnedService,
  sandboxFixture,
  spawnService,
  startMetaSandbox,
  useTestContext,
  waitFor,
} from '@wapi/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { SERVICE } from '../src/config';
import { OUTCOME_UNKNOWN } from '../src/sender';
import { queues, receivedCounts, templateSend, tokenFile } from './helpers';

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

async function startWorker(file: string): Promise<SpawnedService> {
  const port = await freePort();
  const child = spawnService(entry, {
    PORT: String(port),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'error',
    REDIS_URL: ctx.infra.redisUrl,
    MONGO_URL: ctx.mongoUrl,
    MONGO_DB: ctx.dbName,
    KEY_PREFIX: ctx.prefix,
    ...internalAuthEnv(SERVICE),
    GRAPH_BASE_URL: sandbox.baseUrl,
    GRAPH_TIMEOUT_MS: '2000',
    META_ACCESS_TOKEN_FILE: file,
    SENDER_LOCK_MS: '2000',
  });
  children.push(child);
  await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/health/ready`)).ok, {
    timeoutMs: 20_000,
    what: `message-sender on ${port} to be ready (output: ${child.output().slice(-500)})`,
  });
  return child;
}

it('a worker killed with SIGKILL mid-stream leaves every message sent at most once, and all but the in-doubt ones exactly once', async () => {
  const q = queues(ctx);
  const file = tokenFile(world.accessToken);
  const messages = Array.from({ length: 300 }, (_, i) =>
    templateSend(world.phoneNumberId, `1555600${String(i).padStart(4, '0')}`),
  );
  await q.enqueue(messages);

  const first = await startWorker(file);
  await waitFor(async () => (await receivedCounts(sandbox)).size >= 80, {
    timeoutMs: 20_000,
    what: 'the first worker to send 80 messages',
  });
  first.child.kill('SIGKILL');
  await first.exited;
  const atKill = (await receivedCounts(sandbox)).size;
  expect(atKill).toBeLessThan(messages.length);

  await startWorker(file);
  // Every message ends: an event (sent), or the dead-letter list when its call was in flight
  // at the kill and its outcome could not be known.
  const ids = messages.map((m) => m.messageId);
  const { events, inDoubt } = await waitFor(
    async () => {
      const events = await q.emitted();
      const failed = await q.send.queue.getFailed();
      const inDoubt = new Set(
        failed.filter((j) => j.failedReason?.startsWith(OUTCOME_UNKNOWN)).map((j) => j.data.messageId),
      );
      return ids.every((id) => events.has(id) || inDoubt.has(id)) ? { events, inDoubt } : false;
    },
    { timeoutMs: 45_000, intervalMs: 250, what: 'every message to be sent or dead-lettered' },
  );

  const received = await receivedCounts(sandbox);
  for (const id of ids) {
    const times = received.get(id)?.length ?? 0;
    expect(times, `message ${id} reached the sandbox ${times} times`).toBeLessThanOrEqual(1);
    if (events.has(id)) {
      expect(times).toBe(1);
      expect(events.get(id)?.[0]).toMatchObject({ status: 'sent', wamid: received.get(id)?.[0]?.wamid });
    }
  }
  // Only calls that had left when the worker died can be in doubt: at most the per-number
  // in-flight cap of one process (4 at 80/s). Claimed calls that had not left are taken over.
  expect(inDoubt.size).toBeLessThanOrEqual(4);
  expect(received.size + [...inDoubt].filter((id) => !received.has(id)).length).toBe(ids.length);
  console.info(
    `crash test: ${atKill} received before the kill, ${received.size} in all, ${inDoubt.size} in doubt (dead-lettered, not resent)`,
  );
  await q.close();
}, 90_000);

import { fileURLToPath } from 'node:url';
import {
  freePort,
  inboundTextMessage,
  internalAuthEnv,
  messagesChange,
  newWamid,
  type SpawnedService,
  signedWebhook,
  spawnService,
  startPrivateRedis,
  useTestContext,
  waitFor,
  webhookEnvelope,
} from '@wapi/testkit';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { connectNumber, jobsIn, SECRET_NEW } from './helpers';

const ctx = useTestContext('whfaults');
const PNID = '106540352242922';
const entry = fileURLToPath(new URL('../dist/server.js', import.meta.url));
let current: SpawnedService | undefined;

afterAll(async () => {
  if (current && current.child.exitCode === null) {
    current.child.kill('SIGKILL');
    await current.exited;
  }
});

/** The built server, as an operator runs it. */
async function start(port: number, redisUrl = ctx.infra.redisUrl): Promise<SpawnedService> {
  const proc = spawnService(entry, {
    PORT: String(port),
    HOST: '127.0.0.1',
    REDIS_URL: redisUrl,
    MONGO_URL: ctx.mongoUrl,
    MONGO_DB: ctx.dbName,
    KEY_PREFIX: ctx.prefix,
    LOG_LEVEL: 'warn',
    META_APP_SECRETS: SECRET_NEW,
    REDRIVE_INTERVAL_MS: '300',
    REDRIVE_GRACE_MS: '500',
    ...internalAuthEnv('webhook-ingest'),
  });
  await waitFor(
    async () => {
      if (proc.child.exitCode !== null) throw new Error(`exited:\n${proc.output()}`);
      // Live, not ready: the Redis-outage test starts nothing while Redis is down, but the
      // process must be up; readiness needs both dependencies.
      return (await fetch(`http://127.0.0.1:${port}/health`)).ok;
    },
    { what: 'webhook-ingest up', timeoutMs: 20_000 },
  );
  return proc;
}

/**
 * `total` distinct signed webhooks sent by 8 concurrent senders the way Meta does: one not
 * answered 200 is sent again, identical, until it is. `acked()` counts the 200s so far.
 */
function stream(port: number, total: number, tag: string) {
  const bodies = Array.from({ length: total }, (_, i) => {
    const wamid = newWamid();
    const env = webhookEnvelope({
      wabaId: '100000000000001',
      changes: [
        messagesChange({
          phoneNumberId: PNID,
          messages: [
            inboundTextMessage({ from: `1555${String(2000000 + i)}`, id: wamid, text: `${tag}${i}` }),
          ],
        }),
      ],
    });
    return { wamid, ...signedWebhook(env, SECRET_NEW) };
  });
  let acked = 0;
  let next = 0;
  const deadline = Date.now() + 60_000;
  const sender = async () => {
    for (let i = next++; i < total; i = next++) {
      const b = bodies[i] as (typeof bodies)[number];
      for (;;) {
        if (Date.now() > deadline) throw new Error(`webhook ${i} never acknowledged`);
        const res = await fetch(`http://127.0.0.1:${port}/api/v1/webhook`, {
          method: 'POST',
          body: b.body,
          headers: b.headers,
        }).catch(() => undefined);
        if (res?.status === 200) break;
        await new Promise((r) => setTimeout(r, 50)); // Meta's retry backoff, not synchronisation
      }
      acked++;
    }
  };
  const done = Promise.all(Array.from({ length: 8 }, sender));
  return { wamids: bodies.map((b) => b.wamid), acked: () => acked, done };
}

describe('faults', () => {
  it('loses and doubles nothing when webhook-ingest is SIGKILLed mid-stream and restarted', async () => {
    await connectNumber(ctx, PNID, 'ws_fault');
    const port = await freePort();
    current = await start(port);
    const total = 300;
    const s = stream(port, total, 'k');
    await waitFor(() => s.acked() >= 100, { what: '100 acknowledged webhooks', timeoutMs: 30_000 });
    current.child.kill('SIGKILL');
    await current.exited;
    current = await start(port);
    await s.done;
    expect(s.acked()).toBe(total);

    const wanted = new Set(s.wamids);
    const inbound = await waitFor(
      async () => {
        const jobs = (await jobsIn(ctx, 'message.inbound.v1')).filter((j) =>
          wanted.has(String(j.data.wamid)),
        );
        return jobs.length >= total ? jobs : undefined;
      },
      { what: 'every acknowledged webhook processed', timeoutMs: 30_000, intervalMs: 200 },
    );
    expect(inbound).toHaveLength(total);
    expect(new Set(inbound.map((j) => j.data.wamid)).size).toBe(total);
    current.child.kill('SIGTERM');
    await current.exited;
  }, 120_000);

  it('loses and doubles nothing when Redis is SIGKILLed mid-stream and restarted empty', async () => {
    const redis = await startPrivateRedis();
    const client = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    client.on('error', () => undefined);
    try {
      await connectNumber(ctx, PNID, 'ws_redis', client);
      const port = await freePort();
      current = await start(port, redis.url);
      const total = 300;
      const s = stream(port, total, 'r');
      await waitFor(() => s.acked() >= 100, { what: '100 acknowledged webhooks', timeoutMs: 30_000 });
      await redis.stop(); // SIGKILL, no persistence: it comes back empty
      const ackedWhileDown = s.acked();
      await waitFor(() => s.acked() >= ackedWhileDown + 20, {
        what: '20 webhooks acknowledged while Redis is down',
      });
      // What had been emitted, durably recorded, before Redis came back.
      const seenBefore = new Set(
        (await ctx.db.collection<{ _id: string }>('webhook_seen').find({}).toArray()).map((d) => d._id),
      );
      await redis.start();
      await connectNumber(ctx, PNID, 'ws_redis', client); // gateway rebuilds its directory at start
      await s.done;
      expect(s.acked()).toBe(total);

      // Nothing lost: every webhook ends up emitted (the durable record) ...
      const keys = s.wamids.map((w) => `m~${w}`);
      await waitFor(
        async () => {
          const seen = await ctx.db
            .collection<{ _id: string }>('webhook_seen')
            .countDocuments({ _id: { $in: keys } });
          return seen >= total;
        },
        { what: 'every webhook emitted', timeoutMs: 30_000, intervalMs: 200 },
      );
      // ... and whatever was not emitted before the restart is in the new Redis, once.
      const jobs = (await jobsIn(ctx, 'message.inbound.v1', client)).filter((j) =>
        s.wamids.includes(String(j.data.wamid)),
      );
      expect(new Set(jobs.map((j) => j.data.wamid)).size).toBe(jobs.length);
      const emittedAfter = new Set(jobs.map((j) => String(j.data.wamid)));
      for (const wamid of s.wamids) {
        const before = seenBefore.has(`m~${wamid}`);
        // Nothing doubled: an item recorded before the wipe is not emitted again after it.
        expect(before && emittedAfter.has(wamid), wamid).toBe(false);
        if (!before) expect(emittedAfter.has(wamid), wamid).toBe(true);
      }
    } finally {
      if (current && current.child.exitCode === null) {
        current.child.kill('SIGKILL');
        await current.exited;
      }
      client.disconnect();
      await redis.dispose();
    }
  }, 120_000);
});

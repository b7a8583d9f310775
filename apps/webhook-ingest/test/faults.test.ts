import { fileURLToPath } from 'node:url';
import {
  freePort,
  type MetaSandbox,
  type SpawnedService,
  sandboxFixture,
  serviceEnv,
  spawnService,
  startMetaSandbox,
  startPrivateRedis,
  useTestContext,
  waitFor,
} from '@wapi/testkit';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { connectNumber, emittedKeys, jobsIn, SECRET_NEW, VERIFY_TOKEN } from './helpers';
import { startPrivateFerret } from './private-ferretdb';

/**
 * Fault tests: a sustained stream of inbound messages from meta-sandbox (which retries any
 * POST not answered 200, as Meta does) while a dependency goes away and comes back. Each
 * proves that every message ends up emitted exactly once.
 *
 * `WEBHOOK_FAULT_OUTAGE_MS` sets how long Redis and FerretDB stay down (default 5 s, so the
 * package's suite stays short); `node bench/webhook-ingest-faults.mjs` runs this file with
 * the 30 s.
 */
const OUTAGE_MS = Number(process.env.WEBHOOK_FAULT_OUTAGE_MS ?? 5_000);
/** The longest any scenario may take: the outage, the sandbox's retry backoff after it, the drain. */
const SCENARIO_MS = 3 * OUTAGE_MS + 60_000;

const ctx = useTestContext('whfaults');
const entry = fileURLToPath(new URL('../dist/server.js', import.meta.url));
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

/** The built server, as an operator runs it. */
async function startIngest(
  port: number,
  env: { redisUrl: string; mongoUrl: string },
): Promise<SpawnedService> {
  const proc = spawnService(
    entry,
    serviceEnv(ctx, 'webhook-ingest', {
      PORT: String(port),
      HOST: '127.0.0.1',
      // The scenario's own Redis and FerretDB, which it takes down and brings back.
      REDIS_URL: env.redisUrl,
      MONGO_URL: env.mongoUrl,
      LOG_LEVEL: 'error',
      DEV_META_APP_SECRETS: SECRET_NEW,
      WEBHOOK_VERIFY_TOKEN: VERIFY_TOKEN,
      JOURNAL_TIMEOUT_MS: '1000',
      REDRIVE_INTERVAL_MS: '300',
      REDRIVE_GRACE_MS: '500',
    }),
  );
  await waitFor(
    async () => {
      if (proc.child.exitCode !== null) throw new Error(`exited:\n${proc.output()}`);
      // Live, not ready: readiness needs both dependencies, and one may be down on purpose.
      return (await fetch(`http://127.0.0.1:${port}/health`).catch(() => undefined))?.ok === true;
    },
    { what: 'webhook-ingest up', timeoutMs: 20_000 },
  );
  return proc;
}

async function kill(proc: SpawnedService | undefined, signal: NodeJS.Signals = 'SIGKILL') {
  if (proc && proc.child.exitCode === null) {
    proc.child.kill(signal);
    await proc.exited;
  }
}

/** meta-sandbox delivering to `port`, retrying fast (250 ms doubling) so outages clear quickly. */
async function startSandbox(port: number): Promise<{ sandbox: MetaSandbox; phoneNumberId: string }> {
  const world = sandboxFixture({
    appSecret: SECRET_NEW,
    callbackUrl: `http://127.0.0.1:${port}/api/v1/webhook`,
    verifyToken: VERIFY_TOKEN,
  });
  const sandbox = await startMetaSandbox({
    redisUrl: ctx.infra.redisUrl,
    seed: world.seed,
    env: {
      SANDBOX_DETERMINISTIC: 'true',
      SANDBOX_WEBHOOK_RETRY_BASE_MS: '250',
      SANDBOX_WEBHOOK_TIMEOUT_MS: '3000',
    },
  });
  cleanups.push(() => sandbox.stop());
  return { sandbox, phoneNumberId: world.phoneNumberId };
}

/**
 * Customers write to the number, one message every 40 ms, until `stop()`; returns every
 * wamid the sandbox created (each is then delivered until answered 200).
 */
function stream(sandbox: MetaSandbox, tag: string) {
  const wamids: string[] = [];
  let stopped = false;
  const done = (async () => {
    for (let i = 0; !stopped; i++) {
      wamids.push(await sandbox.control.inboundText(`1555${String(3_000_000 + i)}`, `${tag} ${i}`));
      await new Promise((r) => setTimeout(r, 40)); // the stream's pace, not synchronisation
    }
  })();
  return {
    wamids,
    async stop() {
      stopped = true;
      await done;
      return wamids;
    },
  };
}

/** Waits until the sandbox has delivered everything (every POST answered 200), none given up. */
async function allDelivered(sandbox: MetaSandbox) {
  const webhooks = await waitFor(
    async () => {
      const w = await sandbox.control.webhooks(1);
      return w.idle ? w : undefined;
    },
    { what: 'every sandbox webhook answered 200', timeoutMs: SCENARIO_MS, intervalMs: 200 },
  );
  expect(webhooks.stats.givenUp).toBe(0);
  return webhooks.stats;
}

/** Waits until every wamid is in `message.inbound.v1`, then checks each is there once. */
async function emittedOnce(wamids: string[], redis: Redis = ctx.redis) {
  const wanted = new Set(wamids);
  const jobs = await waitFor(
    async () => {
      const found = (await jobsIn(ctx, 'message.inbound.v1', redis)).filter((j) =>
        wanted.has(String(j.data.wamid)),
      );
      return new Set(found.map((j) => j.data.wamid)).size >= wanted.size ? found : undefined;
    },
    { what: 'every streamed message emitted', timeoutMs: SCENARIO_MS, intervalMs: 250 },
  );
  expect(jobs).toHaveLength(wanted.size);
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms)); // outage length, not synchronisation

describe('faults during a sustained stream from meta-sandbox', () => {
  it(
    'loses and doubles nothing when webhook-ingest is SIGKILLed and restarted',
    async () => {
      const port = await freePort();
      let ingest = await startIngest(port, { redisUrl: ctx.infra.redisUrl, mongoUrl: ctx.mongoUrl });
      cleanups.push(() => kill(ingest));
      const { sandbox, phoneNumberId } = await startSandbox(port);
      await connectNumber(ctx, phoneNumberId, 'ws_kill');
      const s = stream(sandbox, 'kill');
      await waitFor(() => s.wamids.length >= 25, { what: '25 messages streamed', timeoutMs: 20_000 });
      await kill(ingest);
      await waitFor(() => s.wamids.length >= 35, {
        what: '10 messages streamed while down',
        timeoutMs: 20_000,
      });
      ingest = await startIngest(port, { redisUrl: ctx.infra.redisUrl, mongoUrl: ctx.mongoUrl });
      const atRestart = s.wamids.length;
      await waitFor(() => s.wamids.length >= atRestart + 25, {
        what: '25 messages streamed after the restart',
        timeoutMs: 20_000,
      });
      const wamids = await s.stop();
      const stats = await allDelivered(sandbox);
      expect(stats.failedAttempts).toBeGreaterThan(0); // refused while it was down, retried
      await emittedOnce(wamids);
    },
    SCENARIO_MS + 30_000,
  );

  it(
    `loses and doubles nothing when Redis is SIGKILLed (no persistence) for ${OUTAGE_MS} ms and restarted empty`,
    async () => {
      const redis = await startPrivateRedis();
      cleanups.push(() => redis.dispose());
      const client = new Redis(redis.url, { maxRetriesPerRequest: 1 });
      client.on('error', () => undefined);
      cleanups.push(async () => client.disconnect());
      const port = await freePort();
      const ingest = await startIngest(port, { redisUrl: redis.url, mongoUrl: ctx.mongoUrl });
      cleanups.push(() => kill(ingest));
      const { sandbox, phoneNumberId } = await startSandbox(port);
      await connectNumber(ctx, phoneNumberId, 'ws_redis', client);
      const s = stream(sandbox, 'redis');
      await waitFor(() => s.wamids.length >= 20, { what: '20 messages streamed', timeoutMs: 20_000 });
      await redis.stop(); // SIGKILL, no persistence: it comes back empty
      await pause(OUTAGE_MS);
      // What had been emitted, durably recorded, before Redis came back (its jobs died with it).
      const seenBefore = await emittedKeys(ctx);
      await redis.start();
      await connectNumber(ctx, phoneNumberId, 'ws_redis', client); // gateway rebuilds its directory at start
      const atRestart = s.wamids.length;
      await waitFor(() => s.wamids.length >= atRestart + 20, {
        what: '20 more messages streamed',
        timeoutMs: 20_000,
      });
      const wamids = await s.stop();
      await allDelivered(sandbox);

      // Nothing lost: every message ends up emitted (the durable record) ...
      const keys = wamids.map((w) => `m~${w}`);
      await waitFor(
        async () => {
          const emitted = await emittedKeys(ctx);
          return keys.every((k) => emitted.has(k));
        },
        { what: 'every message emitted', timeoutMs: SCENARIO_MS, intervalMs: 250 },
      );
      // ... and whatever was not emitted before the wipe is in the new Redis, once.
      const jobs = (await jobsIn(ctx, 'message.inbound.v1', client)).filter((j) =>
        wamids.includes(String(j.data.wamid)),
      );
      expect(new Set(jobs.map((j) => j.data.wamid)).size).toBe(jobs.length);
      const emittedAfter = new Set(jobs.map((j) => String(j.data.wamid)));
      const wiped = wamids.filter((w) => !seenBefore.has(`m~${w}`));
      expect(wiped.length).toBeGreaterThan(0); // some were held up by the outage
      for (const wamid of wamids) {
        const before = seenBefore.has(`m~${wamid}`);
        // Nothing doubled: an item recorded before the wipe is not emitted again after it.
        expect(before && emittedAfter.has(wamid), wamid).toBe(false);
        if (!before) expect(emittedAfter.has(wamid), wamid).toBe(true);
      }
    },
    SCENARIO_MS + 30_000,
  );

  it(
    `loses and doubles nothing when FerretDB is stopped for ${OUTAGE_MS} ms and restarted (503s, then the sandbox's retries)`,
    async () => {
      const ferret = await startPrivateFerret();
      cleanups.push(() => ferret.dispose());
      const port = await freePort();
      const ingest = await startIngest(port, { redisUrl: ctx.infra.redisUrl, mongoUrl: ferret.url });
      cleanups.push(() => kill(ingest));
      const { sandbox, phoneNumberId } = await startSandbox(port);
      await connectNumber(ctx, phoneNumberId, 'ws_ferret');
      const s = stream(sandbox, 'ferret');
      await waitFor(() => s.wamids.length >= 20, { what: '20 messages streamed', timeoutMs: 20_000 });
      await ferret.stop();
      const atStop = s.wamids.length;
      await pause(OUTAGE_MS);
      expect(s.wamids.length).toBeGreaterThan(atStop); // the stream went on during the outage
      await ferret.start();
      await waitFor(() => s.wamids.length >= atStop + 40, {
        what: '40 more messages streamed',
        timeoutMs: 30_000,
      });
      const wamids = await s.stop();
      const stats = await allDelivered(sandbox);
      expect(stats.failedAttempts).toBeGreaterThan(0); // answered 503 while the journal was down
      await emittedOnce(wamids);
    },
    SCENARIO_MS + 30_000,
  );
});

// webhook-ingest: signed ~1.5 KB webhooks through the built server (journaled before each 200),
// the sustained acknowledgement rate with p50/p99, beside (1) a bare Fastify server that only
// verifies the signature and (2) the store's batched-insert ceiling, both from the same run.
// Then how long the processor takes to work off everything acknowledged, and the server's CPU
// per webhook. By default the server runs twice: processing in a worker thread
// (PROCESSOR_THREAD=true) and in the acknowledging thread (the default, PROCESSOR_THREAD=false).
//
// Usage: node bench/webhook-ingest.mjs [--json] [--concurrency 50] [--duration-ms 10000]
//          [--modes thread,inline]
//   needs `bash infra/infra.sh start` and a built webhook-ingest
//   (pnpm --filter @wapi/webhook-ingest build). Own database and key prefix, dropped at the end.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { MongoClient } from 'mongodb';
import { freePort, infraEnv, repoRoot, serviceKeyPair, startProcess, waitReady } from './lib/harness.mjs';
import { findCeiling, measureStoreCeilings } from './lib/store-ceilings.mjs';

const { values: args } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    concurrency: { type: 'string', default: '50' },
    'duration-ms': { type: 'string', default: '10000' },
    modes: { type: 'string', default: 'thread,inline' },
  },
});
const concurrency = Number(args.concurrency);
const durationMs = Number(args['duration-ms']);
const modes = args.modes.split(',').filter((m) => m === 'thread' || m === 'inline');
const progress = (line) => console.error(line);
const infra = infraEnv();
const serverEntry = join(repoRoot, 'apps/webhook-ingest/dist/server.js');
if (!existsSync(serverEntry)) {
  console.error(`${serverEntry} is missing: run 'pnpm --filter @wapi/webhook-ingest build' first.`);
  process.exit(2);
}
const { Redis } = createRequire(join(repoRoot, 'apps/webhook-ingest/package.json'))('ioredis');

const id = `${process.pid}_${randomBytes(3).toString('hex')}`;
const prefix = `benchw_${id}`;
const dbName = `wapi_bench_webhook_${id}`;
const ceilingDbName = `wapi_bench_webhook_ceiling_${id}`;
const secret = randomBytes(16).toString('hex');
const phoneNumberId = '106540352242922';
const mongo = new MongoClient(infra.WAPI_MONGO_URL, { maxPoolSize: 10 });
const redis = new Redis(infra.WAPI_REDIS_URL, { maxRetriesPerRequest: 2 });
const seed = serviceKeyPair().privateKey;

/** User + system CPU of a process so far, in ms (Linux /proc; null elsewhere). */
function cpuMsOf(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // clock ticks of 10 ms
  } catch {
    return null;
  }
}

async function load(url) {
  const proc = startProcess(join(import.meta.dirname, 'webhook-ingest-load.mjs'), [
    JSON.stringify({ url, secret, concurrency, durationMs, warmupMs: 2_000, phoneNumberId }),
  ]);
  const { code } = await proc.exited;
  if (code !== 0) throw new Error(`load generator failed:\n${proc.output()}`);
  return JSON.parse(proc.output().trim().split('\n').pop());
}

const procs = [];
try {
  progress('store ceiling (insertMany, same run) …');
  const report = await measureStoreCeilings(mongo.db(ceilingDbName), {
    sizes: [1000],
    durationMs: 2000,
    progress,
  });
  const ceiling = findCeiling(report, 'insertMany.b500');

  progress('bare Fastify + signature check …');
  const barePort = await freePort();
  const bare = startProcess(join(import.meta.dirname, 'webhook-ingest-bare.mjs'), [], {
    PORT: String(barePort),
    APP_SECRET: secret,
  });
  procs.push(bare);
  await waitReady(`http://127.0.0.1:${barePort}/health/ready`, bare);
  const bareResult = await load(`http://127.0.0.1:${barePort}/api/v1/webhook`);
  bare.child.kill('SIGTERM');

  await redis.set(
    `${prefix}:{directory}:${phoneNumberId}`,
    JSON.stringify({ phoneNumberId, workspaceId: 'ws_bench', wabaId: '100000000000001' }),
  );
  const runs = [];
  for (const mode of modes) {
    progress(
      `webhook-ingest (durable, processor ${mode === 'thread' ? 'in its worker thread' : 'in the same thread'}) …`,
    );
    const port = await freePort();
    const ingest = startProcess(serverEntry, [], {
      PORT: String(port),
      REDIS_URL: infra.WAPI_REDIS_URL,
      MONGO_URL: infra.WAPI_MONGO_URL,
      MONGO_DB: `${dbName}_${mode}`,
      KEY_PREFIX: prefix,
      LOG_LEVEL: 'warn',
      INTERNAL_AUTH_PRIVATE_KEY: seed,
      DEV_META_APP_SECRETS: secret,
      PROCESSOR_THREAD: String(mode === 'thread'),
    });
    procs.push(ingest);
    await waitReady(`http://127.0.0.1:${port}/health/ready`, ingest);
    const cpuBefore = cpuMsOf(ingest.child.pid);
    const result = await load(`http://127.0.0.1:${port}/api/v1/webhook`);
    const db = mongo.db(`${dbName}_${mode}`);
    const acked = await db.collection('webhook_journal').countDocuments();
    const drainStart = Date.now();
    let done = 0;
    while (Date.now() - drainStart < 120_000) {
      // One done mark per processed batch: the processed count is the service's own counter.
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      done = Number(/^webhook_processed_total\{[^}]*\} (\S+)$/m.exec(metrics)?.[1] ?? 0);
      if (done >= acked) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const drainMs = Date.now() - drainStart;
    // Both threads of the process (user + system, /proc): what the webhooks cost, load and drain.
    const cpuAfter = cpuMsOf(ingest.child.pid);
    ingest.child.kill('SIGTERM');
    await ingest.exited;
    runs.push({
      mode,
      ingest: result,
      ratioToBare: Math.round((result.rps / bareResult.rps) * 100) / 100,
      ratioToStoreCeiling: ceiling.rate ? Math.round((result.rps / ceiling.rate) * 100) / 100 : null,
      journaled: acked,
      processed: done,
      drainAfterLoadMs: drainMs,
      cpuMsPerWebhook:
        cpuBefore === null || cpuAfter === null
          ? null
          : Math.round(((cpuAfter - cpuBefore) / acked) * 1000) / 1000,
    });
  }

  const summary = {
    concurrency,
    durationMs,
    bare: bareResult,
    storeCeiling: { id: 'insertMany.b500', docsPerSecond: ceiling.rate },
    runs,
  };
  if (args.json) process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  else {
    console.log('| what | webhooks/s | p50 | p99 |\n|---|--:|--:|--:|');
    console.log(
      `| bare Fastify + signature, c=${concurrency} | ${bareResult.rps} | ${bareResult.p50Ms} ms | ${bareResult.p99Ms} ms |`,
    );
    for (const run of runs)
      console.log(
        `| webhook-ingest, journaled before 200, processor ${run.mode === 'thread' ? 'thread' : 'inline'}, c=${concurrency} | ${run.ingest.rps} (${run.ratioToBare} of bare; ${run.ratioToStoreCeiling} of insertMany b500 = ${ceiling.rate} docs/s) | ${run.ingest.p50Ms} ms | ${run.ingest.p99Ms} ms |`,
      );
    for (const run of runs)
      console.log(
        `${run.mode}: statuses ${JSON.stringify(run.ingest.statuses)}; journaled ${run.journaled}, processed ${run.processed}, ${run.drainAfterLoadMs} ms after the load stopped; ${run.cpuMsPerWebhook ?? '?'} ms of server CPU per webhook`,
      );
  }
} finally {
  for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGKILL');
  for (const mode of ['thread', 'inline'])
    await mongo
      .db(`${dbName}_${mode}`)
      .dropDatabase()
      .catch(() => {});
  await mongo
    .db(ceilingDbName)
    .dropDatabase()
    .catch(() => {});
  let cursor = '0';
  do {
    const [nextCursor, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = nextCursor;
    if (keys.length) await redis.del(...keys);
  } while (cursor !== '0');
  await mongo.close();
  redis.disconnect();
}

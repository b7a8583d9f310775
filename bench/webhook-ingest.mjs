// webhook-ingest: signed ~1.5 KB webhooks through the built server (journaled before each 200),
// the sustained acknowledgement rate with p50/p99, beside (1) a bare Fastify server that only
// verifies the signature and (2) the store's batched-insert ceiling, both from the same run.
// Then how long the processor takes to work off everything acknowledged, and the server's CPU
// per webhook, and where the machine's CPU went per webhook (server, Redis, store, load
// generator) with the rate the cores would allow at that cost.
//
// Usage: node bench/webhook-ingest.mjs [--json] [--concurrency 50] [--duration-ms 10000]
//          [--modes inline,thread] [--texts short,long]
//   --modes: processing in a worker thread (PROCESSOR_THREAD=true) and/or in the acknowledging
//   thread (the default); --texts: the inbound text of each webhook, `short` (can be a consent
//   keyword: a consent signal besides the inbound message, two jobs; a click-to-WhatsApp
//   `referral` block makes the body ~1.5 KB) and/or `long` (~950 characters: one job).
//   Every mode runs with every text.
//   needs `bash infra/infra.sh start` and a built webhook-ingest
//   (pnpm --filter @wapi/webhook-ingest build). Own database and key prefix, dropped at the end.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { MongoClient } from 'mongodb';
import {
  cpuMeter,
  cpuMsOf,
  freePort,
  infraEnv,
  repoRoot,
  serviceKeyPair,
  startProcess,
  waitReady,
} from './lib/harness.mjs';
import { findCeiling, measureStoreCeilings } from './lib/store-ceilings.mjs';

const { values: args } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    concurrency: { type: 'string', default: '50' },
    'duration-ms': { type: 'string', default: '10000' },
    modes: { type: 'string', default: 'inline' },
    texts: { type: 'string', default: 'short,long' },
  },
});
const concurrency = Number(args.concurrency);
const durationMs = Number(args['duration-ms']);
const modes = args.modes.split(',').filter((m) => m === 'thread' || m === 'inline');
const texts = args.texts.split(',').filter((t) => t === 'short' || t === 'long');
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

/**
 * Runs the load generator against `url` and answers its figures, plus `cpuMs`: the CPU each
 * of `pids` ({ label: pid }), Redis, the store and the load generator used in the measured
 * window (the generator marks it on its output).
 */
async function load(url, pids = {}, text = 'long') {
  const proc = startProcess(join(import.meta.dirname, 'webhook-ingest-load.mjs'), [
    JSON.stringify({ url, secret, concurrency, durationMs, warmupMs: 2_000, phoneNumberId, text }),
  ]);
  const meter = cpuMeter(pids);
  const marked = async (marker) => {
    while (!proc.output().includes(marker) && proc.child.exitCode === null)
      await new Promise((r) => setTimeout(r, 10));
  };
  await marked('measuring\n');
  const before = meter.sample();
  await marked('stopped\n');
  const used = meter.since(before);
  const { code } = await proc.exited;
  if (code !== 0) throw new Error(`load generator failed:\n${proc.output()}`);
  const result = JSON.parse(proc.output().trim().split('\n').pop());
  return { ...result, cpuMs: { ...used, loadGenerator: result.cpuMs } };
}

/**
 * CPU per acknowledged webhook (ms) by process, and the rate the machine's cores would allow
 * if that were all they did: what bounds the measured rate when the processes share them.
 */
function cpuPerWebhook(result) {
  const per = {};
  let total = 0;
  for (const [label, ms] of Object.entries(result.cpuMs)) {
    per[label] = Math.round((ms / result.ok) * 1000) / 1000;
    total += ms / result.ok;
  }
  const cores = availableParallelism();
  return {
    perWebhookMs: per,
    totalMs: Math.round(total * 1000) / 1000,
    cores,
    machineBoundPerSecond: Math.round((cores * 1000) / total),
  };
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
  const bareResult = await load(`http://127.0.0.1:${barePort}/api/v1/webhook`, { server: bare.child.pid });
  bare.child.kill('SIGTERM');

  await redis.set(
    `${prefix}:{directory}:${phoneNumberId}`,
    JSON.stringify({ phoneNumberId, workspaceId: 'ws_bench', wabaId: '100000000000001' }),
  );
  const runs = [];
  for (const [mode, text] of modes.flatMap((m) => texts.map((t) => [m, t]))) {
    progress(
      `webhook-ingest (durable, processor ${mode === 'thread' ? 'in its worker thread' : 'in the same thread'}, ${text} texts) …`,
    );
    const port = await freePort();
    const ingest = startProcess(serverEntry, [], {
      PORT: String(port),
      REDIS_URL: infra.WAPI_REDIS_URL,
      MONGO_URL: infra.WAPI_MONGO_URL,
      MONGO_DB: `${dbName}_${mode}_${text}`,
      KEY_PREFIX: prefix,
      LOG_LEVEL: 'warn',
      INTERNAL_AUTH_PRIVATE_KEY: seed,
      DEV_META_APP_SECRETS: secret,
      PROCESSOR_THREAD: String(mode === 'thread'),
    });
    procs.push(ingest);
    await waitReady(`http://127.0.0.1:${port}/health/ready`, ingest);
    const cpuBefore = cpuMsOf(ingest.child.pid);
    const result = await load(`http://127.0.0.1:${port}/api/v1/webhook`, { server: ingest.child.pid }, text);
    const db = mongo.db(`${dbName}_${mode}_${text}`);
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
      text,
      ingest: result,
      ratioToBare: Math.round((result.rps / bareResult.rps) * 100) / 100,
      ratioToStoreCeiling: ceiling.rate ? Math.round((result.rps / ceiling.rate) * 100) / 100 : null,
      journaled: acked,
      processed: done,
      drainAfterLoadMs: drainMs,
      machine: cpuPerWebhook(result),
      cpuMsPerWebhook:
        cpuBefore === null || cpuAfter === null
          ? null
          : Math.round(((cpuAfter - cpuBefore) / acked) * 1000) / 1000,
    });
  }

  const summary = {
    concurrency,
    durationMs,
    bare: { ...bareResult, machine: cpuPerWebhook(bareResult) },
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
        `| webhook-ingest, journaled before 200, processor ${run.mode === 'thread' ? 'thread' : 'inline'}, ${run.text} texts, c=${concurrency} | ${run.ingest.rps} (${run.ratioToBare} of bare; ${run.ratioToStoreCeiling} of insertMany b500 = ${ceiling.rate} docs/s) | ${run.ingest.p50Ms} ms | ${run.ingest.p99Ms} ms |`,
      );
    for (const run of runs)
      console.log(
        `${run.mode}, ${run.text} texts: statuses ${JSON.stringify(run.ingest.statuses)}; journaled ${run.journaled}, processed ${run.processed}, ${run.drainAfterLoadMs} ms after the load stopped; ${run.cpuMsPerWebhook ?? '?'} ms of server CPU per webhook (load and drain)`,
      );
    for (const run of runs)
      console.log(
        `${run.mode}, ${run.text} texts: CPU per webhook while measured, ms: ${Object.entries(
          run.machine.perWebhookMs,
        )
          .map(([k, v]) => `${k} ${v}`)
          .join(
            ', ',
          )}; total ${run.machine.totalMs} ms, which ${run.machine.cores} cores allow ${run.machine.machineBoundPerSecond}/s`,
      );
  }
} finally {
  for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGKILL');
  for (const mode of ['thread', 'inline'])
    for (const text of ['short', 'long'])
      await mongo
        .db(`${dbName}_${mode}_${text}`)
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

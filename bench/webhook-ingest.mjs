// webhook-ingest: signed ~1.5 KB webhooks through the built server (journaled before each 200),
// the sustained acknowledgement rate with p50/p99, beside (1) a bare Fastify server that only
// verifies the signature and (2) the store's batched-insert ceiling, both from the same run.
// Then how long the processor takes to work off everything acknowledged.
//
// Usage: node bench/webhook-ingest.mjs [--json] [--concurrency 50] [--duration-ms 10000]
//   needs `bash infra/infra.sh start` and a built webhook-ingest
//   (pnpm --filter @wapi/webhook-ingest build). Own database and key prefix, dropped at the end.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { MongoClient } from 'mongodb';
import { freePort, infraEnv, repoRoot, startProcess, waitReady } from './lib/harness.mjs';
import { findCeiling, measureStoreCeilings } from './lib/store-ceilings.mjs';

const { values: args } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    concurrency: { type: 'string', default: '50' },
    'duration-ms': { type: 'string', default: '10000' },
  },
});
const concurrency = Number(args.concurrency);
const durationMs = Number(args['duration-ms']);
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
const seed = generateKeyPairSync('ed25519')
  .privateKey.export({ format: 'der', type: 'pkcs8' })
  .subarray(-32)
  .toString('base64url');

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

  progress('webhook-ingest (durable) …');
  await redis.set(
    `${prefix}:{directory}:${phoneNumberId}`,
    JSON.stringify({ phoneNumberId, workspaceId: 'ws_bench', wabaId: '100000000000001' }),
  );
  const port = await freePort();
  const ingest = startProcess(serverEntry, [], {
    PORT: String(port),
    REDIS_URL: infra.WAPI_REDIS_URL,
    MONGO_URL: infra.WAPI_MONGO_URL,
    MONGO_DB: dbName,
    KEY_PREFIX: prefix,
    LOG_LEVEL: 'warn',
    INTERNAL_AUTH_PRIVATE_KEY: seed,
    META_APP_SECRETS: secret,
  });
  procs.push(ingest);
  await waitReady(`http://127.0.0.1:${port}/health/ready`, ingest);
  const result = await load(`http://127.0.0.1:${port}/api/v1/webhook`);
  const db = mongo.db(dbName);
  const acked = await db.collection('webhook_journal').countDocuments();
  const drainStart = Date.now();
  let done = 0;
  while (Date.now() - drainStart < 120_000) {
    done = await db.collection('webhook_done').countDocuments();
    if (done >= acked) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  const drainMs = Date.now() - drainStart;
  ingest.child.kill('SIGTERM');
  await ingest.exited;

  const summary = {
    concurrency,
    durationMs,
    bare: bareResult,
    ingest: result,
    ratioToBare: Math.round((result.rps / bareResult.rps) * 100) / 100,
    storeCeiling: { id: 'insertMany.b500', docsPerSecond: ceiling.rate },
    journaled: acked,
    processed: done,
    drainAfterLoadMs: drainMs,
  };
  const ceilingRate = summary.storeCeiling.docsPerSecond;
  summary.ratioToStoreCeiling = ceilingRate ? Math.round((result.rps / ceilingRate) * 100) / 100 : null;
  if (args.json) process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  else {
    console.log('| what | webhooks/s | p50 | p99 |\n|---|--:|--:|--:|');
    console.log(
      `| bare Fastify + signature, c=${concurrency} | ${bareResult.rps} | ${bareResult.p50Ms} ms | ${bareResult.p99Ms} ms |`,
    );
    console.log(
      `| webhook-ingest, journaled before 200, c=${concurrency} | ${result.rps} (${summary.ratioToBare} of bare; ${summary.ratioToStoreCeiling} of insertMany b500 = ${ceilingRate} docs/s) | ${result.p50Ms} ms | ${result.p99Ms} ms |`,
    );
    console.log(
      `statuses ${JSON.stringify(result.statuses)}; journaled ${acked}, processed ${done}, ${drainMs} ms after the load stopped`,
    );
  }
} finally {
  for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGKILL');
  await mongo
    .db(dbName)
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

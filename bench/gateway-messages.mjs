// gateway messaging, in one run: POST /api/v1/messages (requests/s, p50, p99) next to a bare
// Fastify route doing the same body validation and as a ratio to the store's insertOne ceiling
// (c=50) and to its insertMany ceiling (sends are group-committed); messages/s through
// POST /api/v1/messages/batch (1,000 per call); and status events applied per second by
// gateway's message.events.v1 workers as a ratio to the store's bulkWrite ceiling (what one
// update per message would follow) and to its insertMany ceiling (what the appended status
// documents follow).
//
// Usage: node bench/gateway-messages.mjs [--json] [--duration-ms 10000] [--events 20000]
// Needs the infrastructure (`infra/infra.sh start`) and a built gateway (`pnpm --filter
// @wapi/gateway build`). Works under its own key prefix and database and removes them after.
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { MongoClient } from 'mongodb';
import {
  freePort,
  infraEnv,
  positiveInt,
  runHttpLoad,
  serviceKeyPair,
  startProcess,
  waitReady,
} from './lib/harness.mjs';
import { findCeiling, measureStoreCeilings } from './lib/store-ceilings.mjs';

const { values: args } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    'duration-ms': { type: 'string', default: '10000' },
    events: { type: 'string', default: '20000' },
  },
});
const positive = (name) => positiveInt(args, name);
const durationMs = positive('duration-ms');
const eventCount = positive('events');

const here = dirname(fileURLToPath(import.meta.url));
const gatewayDir = join(here, '..', 'apps', 'gateway');
const gatewayRequire = createRequire(join(gatewayDir, 'package.json'));
const { Redis } = gatewayRequire('ioredis');
const { Queue } = gatewayRequire('bullmq');
const say = (text) => !args.json && console.error(text);

/** The load generator with this run's duration and warm-up. */
const load = (options) => runHttpLoad({ warmupMs: 1_000, durationMs, ...options });

const infra = infraEnv();
const tag = `${process.pid}_${randomBytes(3).toString('hex')}`;
const prefix = `bench_gwm_${tag}`;
const dbName = `wapi_bench_gwm_${tag}`;
const internalKey = serviceKeyPair().privateKey;
const gatewayPort = await freePort();
const barePort = await freePort();
const base = `http://127.0.0.1:${gatewayPort}`;
const gateway = startProcess(join(gatewayDir, 'dist', 'server.js'), [], {
  HOST: '127.0.0.1',
  PORT: String(gatewayPort),
  LOG_LEVEL: 'warn',
  NODE_ENV: 'production',
  REDIS_URL: infra.WAPI_REDIS_URL,
  KEY_PREFIX: prefix,
  MONGO_URL: infra.WAPI_MONGO_URL,
  MONGO_DB: dbName,
  INTERNAL_AUTH_PRIVATE_KEY: internalKey,
  ACCESS_TOKEN_PRIVATE_KEY: randomBytes(32).toString('base64url'),
  API_RATE_FREE: '1000000',
  PUBLIC_RATE_PER_IP: '1000000',
});
const bare = startProcess(join(here, 'gateway-messages-bare.mjs'), [String(barePort)]);
const mongo = new MongoClient(infra.WAPI_MONGO_URL);
const redis = new Redis(infra.WAPI_REDIS_URL);
const results = {};
let exitCode = 0;
try {
  await mongo.connect();
  const db = mongo.db(dbName);
  await waitReady(`${base}/health/ready`, gateway);
  await waitReady(`http://127.0.0.1:${barePort}/bare`, bare);
  const call = async (method, path, body, token) => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    });
    if (res.status >= 300) throw new Error(`${path}: ${res.status} ${await res.text()}`);
    return res.json();
  };
  const owner = await call('POST', '/api/v1/auth/signup', {
    email: `bench.${tag}@bench.example.com`,
    password: 'bench password 0123456789',
    name: 'bench',
    workspaceName: 'bench workspace',
  });
  const token = owner.tokens.accessToken;
  const ws = owner.workspace.id;
  await call('PATCH', '/api/v1/workspace', { sendsPerMinute: 100_000 }, token);
  // A connected number (stored as the connect route stores it; connecting needs vault) and the
  // suppression list marked complete, as compliance does at start-up (no one is opted out).
  await db.collection('phone_numbers').insertOne({
    _id: '100200300',
    workspaceId: ws,
    wabaId: '1',
    displayPhoneNumber: '+1 555 0100',
    verifiedName: null,
    status: 'connected',
    qualityRating: null,
    messagingLimitTier: null,
    throughputMps: 80,
    connectedAt: new Date(),
  });
  await redis.set(`${prefix}:{suppression}:ready`, '1');
  // An approved utility template, stored as a sync from Meta stores it (the send is checked
  // against it; its Redis cache fills on the first send).
  const now = new Date();
  await db.collection('templates').insertOne({
    _id: `${ws}:order_update:en`,
    workspaceId: ws,
    name: 'order_update',
    language: 'en',
    metaCategory: 'UTILITY',
    category: 'utility',
    status: 'APPROVED',
    quality: null,
    reason: null,
    metaId: '1',
    wabaId: '1',
    parameterFormat: 'positional',
    componentsJson: JSON.stringify([{ type: 'BODY', text: 'Your order is on its way.' }]),
    expectations: { format: 'positional', body: [], header: null, buttons: [] },
    statusAt: now,
    createdAt: now,
    updatedAt: now,
  });
  const contact = await call('POST', '/api/v1/contacts', { phone: '+14155550100' }, token);
  const body = {
    contactId: contact.id,
    content: { type: 'template', template: { name: 'order_update', language: 'en' } },
  };

  say('POST /api/v1/messages at c=50 …');
  results.send = await load({
    url: `${base}/api/v1/messages`,
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body,
    concurrency: 50,
  });
  say('bare Fastify route, same body validation, at c=50 …');
  results.bare = await load({
    url: `http://127.0.0.1:${barePort}/bare`,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
    concurrency: 50,
  });
  say('POST /api/v1/messages/batch (1,000 per call) at c=2 …');
  // In this process: a 1,000-message body does not fit a command line. Two calls in flight.
  const batchBody = JSON.stringify({ messages: Array.from({ length: 1_000 }, () => body) });
  const batchLatencies = [];
  let batchAccepted = 0;
  const batchStarted = performance.now();
  await Promise.all(
    [0, 1].map(async () => {
      while (performance.now() - batchStarted < durationMs) {
        const t = performance.now();
        const res = await fetch(`${base}/api/v1/messages/batch`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: batchBody,
        });
        const answer = await res.json();
        if (res.status !== 202)
          throw new Error(`batch: ${res.status} ${JSON.stringify(answer).slice(0, 300)}`);
        batchAccepted += answer.accepted;
        batchLatencies.push(performance.now() - t);
      }
    }),
  );
  const batchSeconds = (performance.now() - batchStarted) / 1000;
  batchLatencies.sort((a, b) => a - b);
  const batch = {
    calls: batchLatencies.length,
    p99Ms: batchLatencies[Math.floor(batchLatencies.length * 0.99)] ?? 0,
  };
  results.batch = { ...batch, accepted: batchAccepted, messagesPerS: batchAccepted / batchSeconds };

  say(`${eventCount} status events through message.events.v1 …`);
  const ids = (
    await db
      .collection('messages')
      .find({}, { projection: { _id: 1 }, limit: eventCount / 2 })
      .toArray()
  ).map((d) => d._id);
  const events = new Queue('message.events.v1', {
    connection: redis,
    prefix: `${prefix}:{q:message.events.v1}`,
  });
  const at = new Date().toISOString();
  const jobs = ids.flatMap((id, i) =>
    ['sent', 'delivered'].map((status) => ({
      name: 'message.events.v1',
      data: {
        workspaceId: ws,
        messageId: id,
        wamid: `wamid.bench.${i}`,
        recipient: '14155550100',
        status,
        occurredAt: at,
        source: 'sender',
      },
      opts: { jobId: `${id}~${status}`, removeOnComplete: true },
    })),
  );
  const started = performance.now();
  for (let i = 0; i < jobs.length; i += 1_000) await events.addBulk(jobs.slice(i, i + 1_000));
  const deadline = Date.now() + 300_000;
  let done = 0;
  // Applied = its `delivered` status document written (the durable record; Redis is written
  // right after it in the same batch). Checked through the API below.
  while (done < ids.length && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
    done = await db.collection('message_statuses').countDocuments({ status: 'delivered' });
  }
  const seconds = (performance.now() - started) / 1000;
  // What a client reads: a sample of the messages, through GET /api/v1/messages/:id.
  const sample = ids.filter((_, i) => i % Math.max(1, Math.floor(ids.length / 20)) === 0);
  for (const id of sample) {
    const m = await call('GET', `/api/v1/messages/${id}`, undefined, token);
    if (m.status !== 'delivered' || m.wamid === null)
      throw new Error(`message ${id} reads ${m.status} (wamid ${m.wamid}) after its events were applied`);
  }
  results.events = {
    events: jobs.length,
    messages: ids.length,
    applied: done === ids.length,
    seconds,
    perS: jobs.length / seconds,
  };
  await events.close();

  say('store ceilings (same run) …');
  const ceilingDb = mongo.db(`${dbName}_ceiling`);
  const report = await measureStoreCeilings(ceilingDb, { durationMs: 1_500, sizes: [1_000] });
  await ceilingDb.dropDatabase();
  results.ceilings = {
    insertOneC50: findCeiling(report, 'insertOne.c50').rate,
    // Sends are group-committed (one insertMany per event-loop turn): this is their ceiling.
    insertManyB100: findCeiling(report, 'insertMany.b100').rate,
    bulkWriteB100: findCeiling(report, 'bulkWrite.b100.n1000').rate,
  };
  const r = results;
  if (args.json) console.log(JSON.stringify(r, null, 2));
  else
    console.log(`
gateway messaging bench (FerretDB ${report.server.ferretdbVersion ?? report.server.version}, ${durationMs / 1000} s per load)
POST /api/v1/messages c=50     ${r.send.rps.toFixed(0)} req/s  p50 ${r.send.p50Ms.toFixed(1)} ms  p99 ${r.send.p99Ms.toFixed(1)} ms  statuses ${JSON.stringify(r.send.statuses)}
  bare Fastify, same schema   ${r.bare.rps.toFixed(0)} req/s  p50 ${r.bare.p50Ms.toFixed(1)} ms  p99 ${r.bare.p99Ms.toFixed(1)} ms
  store insertOne c=50        ${r.ceilings.insertOneC50.toFixed(0)} docs/s  ->  ratio ${(r.send.rps / r.ceilings.insertOneC50).toFixed(2)}
  store insertMany b100       ${r.ceilings.insertManyB100.toFixed(0)} docs/s  ->  ratio ${(r.send.rps / r.ceilings.insertManyB100).toFixed(2)}
POST /api/v1/messages/batch    ${r.batch.messagesPerS.toFixed(0)} messages/s  (p99 ${r.batch.p99Ms.toFixed(0)} ms per 1,000)
events applied                 ${r.events.perS.toFixed(0)} events/s  (${r.events.events} events, ${r.events.messages} messages, ${r.events.seconds.toFixed(1)} s${r.events.applied ? '' : ', NOT ALL APPLIED'})
  store bulkWrite b100        ${r.ceilings.bulkWriteB100.toFixed(0)} ops/s  ->  ratio ${(r.events.perS / r.ceilings.bulkWriteB100).toFixed(2)}
  store insertMany b100       ${r.ceilings.insertManyB100.toFixed(0)} docs/s  ->  ratio ${(r.events.perS / r.ceilings.insertManyB100).toFixed(2)}`);
} catch (error) {
  console.error(error);
  exitCode = 1;
} finally {
  gateway.child.kill('SIGTERM');
  bare.child.kill('SIGTERM');
  await Promise.all([gateway.exited, bare.exited]);
  await mongo
    .db(dbName)
    .dropDatabase()
    .catch(() => undefined);
  await mongo.close();
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) await redis.del(...keys);
  } while (cursor !== '0');
  redis.disconnect();
}
process.exit(exitCode);

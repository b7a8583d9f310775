// compliance: audit entries written per second (as a ratio to the store's insertMany ceiling
// measured in the same run), suppression check p99 for a batch of 100 contacts (next to a bare
// Redis pipeline doing the same reads), and the server's RSS while it streams 100,000 audit
// entries as CSV (sampled through the export: flat means it does not grow with the export).
//
// Usage: node bench/compliance.mjs [--json] [--audit-events 20000] [--export-entries 100000]
//   needs `bash infra/infra.sh start` (.infra/env) and a built compliance
//   (pnpm --filter @wapi/compliance build). Works in its own database and key prefix, dropped at the end.
import { createHash, randomBytes, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { MongoClient } from 'mongodb';
import { freePort, infraEnv, memoryOf, serviceKeyPair, startProcess, waitReady } from './lib/harness.mjs';
import { findCeiling, measureStoreCeilings } from './lib/store-ceilings.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// The queue and Redis clients compliance itself runs on (its own dependencies), so the bench
// drives it exactly as gateway and webhook-ingest would.
const fromCompliance = createRequire(join(root, 'apps/compliance/package.json'));
const { Queue } = fromCompliance('bullmq');
const { Redis } = fromCompliance('ioredis');

const { values: args } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    'audit-events': { type: 'string', default: '20000' },
    'export-entries': { type: 'string', default: '100000' },
  },
});
const auditEvents = Number(args['audit-events']);
const exportEntries = Number(args['export-entries']);

const infra = infraEnv();
const serverEntry = join(root, 'apps/compliance/dist/server.js');
try {
  readFileSync(serverEntry);
} catch {
  console.error(`${serverEntry} is missing: run 'pnpm --filter @wapi/compliance build' first.`);
  process.exit(2);
}

const id = `${process.pid}_${randomBytes(3).toString('hex')}`;
const prefix = `benchc_${id}`;
const dbName = `wapi_bench_compliance_${id}`;
const mongo = new MongoClient(infra.WAPI_MONGO_URL, { maxPoolSize: 20 });
const db = mongo.db(dbName);
const redis = new Redis(infra.WAPI_REDIS_URL, { maxRetriesPerRequest: 2 });
const progress = (line) => console.error(line);

// Internal auth: a key pair for compliance and one for the calling gateway, as documented.
const complianceKeys = serviceKeyPair();
const gatewayKeys = serviceKeyPair();
function token() {
  const now = Math.floor(Date.now() / 1000);
  const part = (v) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const input = `${part({ alg: 'EdDSA', typ: 'JWT' })}.${part({ iss: 'gateway', aud: 'compliance', iat: now, exp: now + 60 })}`;
  return `Bearer ${input}.${sign(null, Buffer.from(input), gatewayKeys.keyObject).toString('base64url')}`;
}

const port = await freePort();
const base = `http://127.0.0.1:${port}`;
let server;

async function startServer() {
  server = startProcess(serverEntry, [], {
    REDIS_URL: infra.WAPI_REDIS_URL,
    MONGO_URL: infra.WAPI_MONGO_URL,
    MONGO_DB: dbName,
    KEY_PREFIX: prefix,
    PORT: String(port),
    LOG_LEVEL: 'warn',
    INTERNAL_AUTH_PRIVATE_KEY: complianceKeys.privateKey,
    INTERNAL_AUTH_PUBLIC_KEYS: `gateway=${gatewayKeys.publicKey}`,
  });
  await waitReady(`${base}/health/ready`, server);
}

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

async function benchAudit() {
  progress(`audit: ${auditEvents} events over 10 workspaces queued on audit.v1, then compliance started`);
  const queue = new Queue('audit.v1', { connection: redis, prefix: `${prefix}:{q:audit.v1}` });
  const entries = db.collection('audit_entries');
  for (let i = 0; i < auditEvents; i += 1_000) {
    const jobs = [];
    for (let j = i; j < Math.min(auditEvents, i + 1_000); j += 1) {
      jobs.push({
        name: 'audit.v1',
        data: {
          workspaceId: `ws_${j % 10}`,
          actor: { type: 'user', id: `usr_${j % 97}` },
          action: 'template.updated',
          target: { type: 'template', id: `tpl_${j}` },
          at: new Date().toISOString(),
          requestId: `req_${j}`,
          ip: '203.0.113.9',
          outcome: 'success',
          before: { status: 'draft' },
          after: { status: 'approved' },
        },
        opts: { jobId: `bench~${j}` },
      });
    }
    await queue.addBulk(jobs);
  }
  // The queue is full before compliance starts: the figure is its consumption rate alone,
  // not the enqueueing of this process competing for the same two cores.
  await startServer();
  const started = performance.now();
  let count = 0;
  while (count < auditEvents) {
    await new Promise((r) => setTimeout(r, 100));
    count = await entries.estimatedDocumentCount();
  }
  const seconds = (performance.now() - started) / 1000;
  await queue.close();
  return { events: auditEvents, seconds, rate: auditEvents / seconds };
}

async function benchCheck() {
  progress('suppression: 2,000 opted-out contacts, then 2,000 checks of 100 contacts');
  const ws = 'ws_check';
  const contacts = Array.from({ length: 5_000 }, (_, i) => String(4915100000000 + i));
  for (let i = 0; i < 2_000; i += 1) {
    const res = await fetch(`${base}/internal/v1/consent/changes`, {
      method: 'POST',
      headers: { authorization: token(), 'content-type': 'application/json' },
      body: JSON.stringify({
        workspaceId: ws,
        contact: contacts[i * 2],
        signal: 'opt_out',
        scope: i % 2 ? 'all' : 'marketing',
        source: 'import',
        actor: { type: 'user', id: 'bench' },
        idempotencyKey: `bench-${i}`,
      }),
    });
    if (!res.ok) throw new Error(`consent change failed: ${res.status} ${await res.text()}`);
  }
  const batch = () => {
    const start = Math.floor(Math.random() * (contacts.length - 100));
    return contacts.slice(start, start + 100);
  };
  const auth = token();
  const http = [];
  for (let i = 0; i < 2_000; i += 1) {
    const t = performance.now();
    const res = await fetch(`${base}/internal/v1/suppression/check`, {
      method: 'POST',
      headers: { authorization: auth, 'content-type': 'application/json' },
      body: JSON.stringify({ workspaceId: ws, contacts: batch(), category: 'marketing' }),
    });
    await res.arrayBuffer();
    if (!res.ok) throw new Error(`check failed: ${res.status}`);
    http.push(performance.now() - t);
  }
  // The read side other services run (@wapi/consent checkSuppression): one pipeline, EXISTS + HMGET.
  const key = `${prefix}:{suppression}:ws:${ws}`;
  const ready = `${prefix}:{suppression}:ready`;
  const direct = [];
  for (let i = 0; i < 2_000; i += 1) {
    const t = performance.now();
    await redis
      .pipeline()
      .exists(ready)
      .hmget(key, ...batch())
      .exec();
    direct.push(performance.now() - t);
  }
  http.sort((a, b) => a - b);
  direct.sort((a, b) => a - b);
  return {
    httpP50: percentile(http, 50),
    httpP99: percentile(http, 99),
    redisP50: percentile(direct, 50),
    redisP99: percentile(direct, 99),
  };
}

async function benchExport() {
  progress(`export: writing ${exportEntries} entries to one workspace, then streaming them as CSV`);
  const ws = 'ws_export';
  const entries = db.collection('audit_entries');
  let prev = '0'.repeat(64);
  for (let i = 0; i < exportEntries; i += 1_000) {
    const docs = [];
    for (let seq = i + 1; seq <= Math.min(exportEntries, i + 1_000); seq += 1) {
      const hash = createHash('sha256').update(`${prev}${seq}`).digest('hex');
      docs.push({
        _id: `${ws}:${seq}`,
        workspaceId: ws,
        seq,
        page: Math.floor(seq / 1_000),
        prevHash: prev,
        hash,
        eventId: `e${seq}`,
        actor: { type: 'user', id: `usr_${seq % 50}` },
        action: 'message.template.sent',
        target: { type: 'contact', id: `=cmd${seq}` },
        at: new Date(),
        recordedAt: new Date(),
        requestId: `req_${seq}`,
        userAgent: 'Mozilla/5.0 (X11; Linux x86_64) bench, "quoted"',
        before: { status: 'draft' },
        after: { status: 'sent', n: seq },
      });
      prev = hash;
    }
    await entries.insertMany(docs, { ordered: false });
  }
  if (typeof global.gc === 'function') global.gc();
  const before = memoryOf(server.child.pid).rssKb;
  const samples = [];
  const sampler = setInterval(() => samples.push(memoryOf(server.child.pid).rssKb), 50);
  const started = performance.now();
  const res = await fetch(`${base}/internal/v1/audit/${ws}/export.csv`, {
    headers: { authorization: token() },
  });
  if (!res.ok) throw new Error(`export failed: ${res.status} ${await res.text()}`);
  let bytes = 0;
  let rows = 0;
  const byTenth = [];
  for await (const chunk of res.body) {
    bytes += chunk.length;
    for (const b of chunk) if (b === 10) rows += 1;
    while (byTenth.length < 10 && rows - 1 >= ((byTenth.length + 1) * exportEntries) / 10)
      byTenth.push(memoryOf(server.child.pid).rssKb);
  }
  clearInterval(sampler);
  const seconds = (performance.now() - started) / 1000;
  if (rows - 1 !== exportEntries) throw new Error(`export had ${rows - 1} rows, expected ${exportEntries}`);
  return { before, peak: Math.max(before, ...samples), byTenth, bytes, seconds };
}

let exitCode = 0;
try {
  await mongo.connect();
  progress('store ceiling (same run): insertMany of 100');
  const report = await measureStoreCeilings(db, { durationMs: 1_500, sizes: [1_000] });
  const ceiling = findCeiling(report, 'insertMany.b100');
  await db.dropDatabase();
  const audit = await benchAudit();
  const check = await benchCheck();
  const exp = await benchExport();
  const result = { ceilingDocsPerS: ceiling.rate, audit, check, export: exp };
  if (args.json) console.log(JSON.stringify(result, null, 2));
  else {
    const mb = (kb) => `${(kb / 1024).toFixed(0)} MB`;
    console.log(`
compliance bench (FerretDB ${report.server.ferretdbVersion ?? report.server.version})
audit entries written        ${audit.rate.toFixed(0)} /s  (${audit.events} events, 10 workspaces, ${audit.seconds.toFixed(1)} s)
  store ceiling insertMany100 ${ceiling.rate.toFixed(0)} docs/s  ->  ratio ${(audit.rate / ceiling.rate).toFixed(2)}
suppression check, 100 contacts  HTTP p50 ${check.httpP50.toFixed(2)} ms  p99 ${check.httpP99.toFixed(2)} ms
  bare Redis pipeline (baseline) p50 ${check.redisP50.toFixed(2)} ms  p99 ${check.redisP99.toFixed(2)} ms
CSV export of ${exportEntries} entries  ${(exp.bytes / 1e6).toFixed(0)} MB in ${exp.seconds.toFixed(1)} s
  server RSS before ${mb(exp.before)}, peak ${mb(exp.peak)}; at each tenth: ${exp.byTenth.map(mb).join(' ')}`);
  }
} catch (error) {
  console.error(`compliance bench failed: ${error.stack ?? error.message}`);
  exitCode = 1;
} finally {
  server?.child.kill('SIGTERM');
  await db.dropDatabase().catch(() => undefined);
  await mongo.close();
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) await redis.unlink(...keys);
  } while (cursor !== '0');
  redis.disconnect();
  process.exitCode = exitCode;
}

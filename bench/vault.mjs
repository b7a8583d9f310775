// vault, in one run: an internal GET of a secret over HTTP (p50, p99, requests/s at c=50)
// next to a bare Fastify route doing the same internal-auth check; the vault client's cached
// read; and the rewrap job's throughput as a ratio to the store's insertMany ceiling.
//
// Usage: node bench/vault.mjs [--json] [--duration-ms 10000] [--secrets 5000]
// Needs the infrastructure (`infra/infra.sh start`) and a built vault (`pnpm --filter
// @wapi/vault build`). Works under its own key prefix and databases and removes them after.
import { randomBytes, sign } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { MongoClient } from 'mongodb';
import { freePort, infraEnv, runHttpLoad, serviceKeyPair, startProcess, waitReady } from './lib/harness.mjs';
import { findCeiling, measureStoreCeilings } from './lib/store-ceilings.mjs';

const { values: args } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    'duration-ms': { type: 'string', default: '10000' },
    secrets: { type: 'string', default: '5000' },
  },
});
const durationMs = Number(args['duration-ms']);
const secretCount = Number(args.secrets);
if (!Number.isInteger(durationMs) || durationMs <= 0 || !Number.isInteger(secretCount) || secretCount <= 0) {
  console.error(
    '--duration-ms and --secrets take positive integers, e.g. --duration-ms 10000 --secrets 5000',
  );
  process.exit(2);
}

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const vaultDir = join(root, 'apps', 'vault');
const say = (text) => !args.json && console.error(text);

// ---- bundles of our TypeScript (service-kit's auth, the client, the envelope) for this run
const requireFromVault = createRequire(join(vaultDir, 'package.json'));
const esbuild = createRequire(createRequire(join(root, 'package.json')).resolve('tsup'))('esbuild');
const bundleDir = join(vaultDir, 'node_modules', '.cache', 'wapi-bench');
mkdirSync(bundleDir, { recursive: true });
async function bundle(name, contents) {
  const outfile = join(bundleDir, `${name}.mjs`);
  await esbuild.build({
    stdin: { contents, resolveDir: vaultDir, loader: 'ts', sourcefile: `${name}.ts` },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outfile,
    logLevel: 'error',
    external: [
      'fastify',
      'ioredis',
      'pino',
      'bullmq',
      'mongodb',
      '@sinclair/typebox',
      'fastify-plugin',
      'prom-client',
      '@fastify/*',
      '@aws-sdk/*',
      'fast-jwt',
    ],
  });
  return outfile;
}

function token(caller, keyObject) {
  const now = Math.floor(Date.now() / 1000);
  const part = (v) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const input = `${part({ alg: 'EdDSA', typ: 'JWT' })}.${part({ iss: caller, aud: 'vault', iat: now, exp: now + 60 })}`;
  return `${input}.${sign(null, Buffer.from(input), keyObject).toString('base64url')}`;
}

/** A closed-loop GET at `concurrency` with this run's duration. */
const load = (url, headers, concurrency = 50) =>
  runHttpLoad({ url, headers, concurrency, durationMs, warmupMs: 2_000 });
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// ---- set-up
const infra = infraEnv();
const id = `benchvault${process.pid}${randomBytes(3).toString('hex')}`;
const vaultKeys = serviceKeyPair();
const sender = serviceKeyPair();
const gateway = serviceKeyPair();
const masterKey = randomBytes(32).toString('hex');
const vaultPort = await freePort();
const vaultEnv = {
  REDIS_URL: infra.WAPI_REDIS_URL,
  MONGO_URL: infra.WAPI_MONGO_URL,
  MONGO_DB: id,
  KEY_PREFIX: id,
  PORT: String(vaultPort),
  LOG_LEVEL: 'warn',
  TOKEN_MASTER_KEY: masterKey,
  INTERNAL_AUTH_PRIVATE_KEY: vaultKeys.privateKey,
  INTERNAL_AUTH_PUBLIC_KEYS: `message-sender=${sender.publicKey},gateway=${gateway.publicKey}`,
};
const mongo = await new MongoClient(infra.WAPI_MONGO_URL).connect();
const Redis = requireFromVault('ioredis').Redis;
const redis = new Redis(infra.WAPI_REDIS_URL);
const results = {};
let vault;
let bare;
try {
  say('bundling the auth check, the client and the envelope…');
  const bareEntry = await bundle(
    'bare-internal-route',
    `import Fastify from 'fastify';
     import { createInternalAuth, parseInternalKeys } from '@wapi/service-kit';
     const auth = createInternalAuth({ service: 'vault', keys: parseInternalKeys('vault', process.env) });
     const app = Fastify({ logger: false });
     const value = 'EAAG' + 'x'.repeat(200);
     app.register(async (scope) => {
       scope.addHook('onRequest', auth.require);
       scope.get('/internal/v1/workspaces/:workspaceId/secrets/:purpose/:recordId', async (request) => ({ value, caller: request.caller }));
     });
     app.get('/health/ready', async () => ({ ok: true }));
     await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT) });`,
  );
  const kit = await import(
    pathToFileURL(
      await bundle(
        'vault-kit',
        `export { createVaultClient } from '@wapi/vault-client';
         export { createInternalAuth, parseInternalKeys } from '@wapi/service-kit';
         export { seal } from './src/domain/envelope';
         export { createKeyRing } from './src/domain/key-ring';
         export { secretDocId } from './src/data/secrets.repository';`,
      ),
    ).href
  );

  // ---- HTTP: bare route vs vault
  vault = startProcess(join(vaultDir, 'dist', 'server.js'), [], vaultEnv);
  await waitReady(`http://127.0.0.1:${vaultPort}/health/ready`, vault);
  const barePort = await freePort();
  bare = startProcess(bareEntry, [], { ...vaultEnv, PORT: String(barePort) });
  await waitReady(`http://127.0.0.1:${barePort}/health/ready`, bare);

  const path = '/internal/v1/workspaces/ws_bench/secrets/meta.access_token/waba_1';
  const put = await fetch(`http://127.0.0.1:${vaultPort}${path}`, {
    method: 'PUT',
    headers: {
      authorization: `Bearer ${token('gateway', gateway.keyObject)}`,
      'content-type': 'application/json',
    },
    body: JSON.stringify({ value: `EAAG${'x'.repeat(200)}` }),
  });
  if (put.status !== 200) throw new Error(`PUT answered ${put.status}: ${await put.text()}`);
  // A fresh token per run: each is valid 60 s and a run takes warm-up + duration.
  const headers = () => ({ authorization: `Bearer ${token('message-sender', sender.keyObject)}` });
  const runs = { bare: [], vault: [] };
  for (let round = 0; round < 2; round++) {
    say(`round ${round + 1}/2: bare route…`);
    runs.bare.push(await load(`http://127.0.0.1:${barePort}${path}`, headers()));
    say(`round ${round + 1}/2: vault GET…`);
    runs.vault.push(await load(`http://127.0.0.1:${vaultPort}${path}`, headers()));
  }
  say('vault GET at c=1 (latency without queueing)…');
  results.httpC1 = await load(`http://127.0.0.1:${vaultPort}${path}`, headers(), 1);
  results.bareC1 = await load(`http://127.0.0.1:${barePort}${path}`, headers(), 1);
  for (const run of [...runs.bare, ...runs.vault, results.httpC1, results.bareC1])
    if (run.errors > 0 || Object.keys(run.statuses).some((s) => s !== '200'))
      throw new Error(`a load run had failures: ${JSON.stringify(run)}`);
  const pick = (rs) => ({
    rps: median(rs.map((r) => r.rps)),
    p50Ms: median(rs.map((r) => r.p50Ms)),
    p99Ms: median(rs.map((r) => r.p99Ms)),
  });
  results.http = { bare: pick(runs.bare), vault: pick(runs.vault) };
  results.http.ratio = Math.round((results.http.vault.rps / results.http.bare.rps) * 100) / 100;

  // ---- the client's cached read
  say('client cached read…');
  const subscriber = new Redis(infra.WAPI_REDIS_URL);
  const client = kit.createVaultClient({
    baseUrl: `http://127.0.0.1:${vaultPort}`,
    auth: kit.createInternalAuth({ service: 'message-sender', keys: parseSenderKeys(kit) }),
    subscriber,
    prefix: id,
  });
  await client.ready();
  await client.get('ws_bench', 'meta.access_token', 'waba_1');
  const samples = [];
  for (let i = 0; i < 100_000; i++) {
    const t = process.hrtime.bigint();
    await client.get('ws_bench', 'meta.access_token', 'waba_1');
    samples.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  samples.sort((a, b) => a - b);
  results.cachedRead = {
    reads: samples.length,
    p50Ms: Math.round(samples[Math.floor(samples.length * 0.5)] * 10_000) / 10_000,
    p99Ms: Math.round(samples[Math.floor(samples.length * 0.99)] * 10_000) / 10_000,
  };
  await client.close();
  subscriber.disconnect();

  // ---- rewrap throughput vs the store ceiling
  say(`store ceiling (insertMany of 500)…`);
  const ceilingDb = mongo.db(`${id}_ceiling`);
  const report = await measureStoreCeilings(ceilingDb, { durationMs: 2_000, sizes: [1_000] });
  await ceilingDb.dropDatabase();
  const ceiling = findCeiling(report, 'insertMany.b500');
  say(`seeding ${secretCount} secrets under key version 1…`);
  const ring = kit.createKeyRing({ masterKey, extra: '', minVersion: 1 });
  const coll = mongo.db(id).collection('secrets');
  const docs = [];
  for (let i = 0; i < secretCount; i++) {
    const ctx = {
      workspaceId: `ws_${i % 10}`,
      purpose: 'meta.access_token',
      recordId: `rec_${i}`,
      revision: 1,
    };
    docs.push({
      _id: kit.secretDocId(ctx.workspaceId, ctx.purpose, ctx.recordId, 1, 1),
      ...ctx,
      kekVersion: 1,
      sealed: await kit.seal(ring, ctx, `token-${i}`),
      createdAt: new Date(),
    });
  }
  for (let i = 0; i < docs.length; i += 1_000)
    await coll.insertMany(docs.slice(i, i + 1_000), { ordered: false });
  say('rewrap job…');
  const began = Date.now();
  const job = startProcess(join(vaultDir, 'dist', 'rewrap.js'), [], {
    ...vaultEnv,
    VAULT_KEYS: `2=${randomBytes(32).toString('hex')}`,
    LOG_LEVEL: 'info',
  });
  const { code } = await job.exited;
  if (code !== 0) throw new Error(`rewrap exited ${code}:\n${job.output().slice(-2_000)}`);
  const seconds = (Date.now() - began) / 1000;
  const left = await coll.countDocuments({ kekVersion: { $lt: 2 } });
  if (left !== 0) throw new Error(`rewrap left ${left} secrets under version 1`);
  const rate = Math.round((secretCount + 1) / seconds); // +1: the PUT above
  results.rewrap = {
    secrets: secretCount + 1,
    seconds,
    perSecond: rate,
    ceilingDocsPerSecond: Math.round(ceiling.rate),
    ratio: Math.round((rate / ceiling.rate) * 1000) / 1000,
  };

  if (args.json) console.log(JSON.stringify(results, null, 2));
  else {
    const h = results.http;
    console.log(`
vault internal GET over HTTP (c=50, ${durationMs / 1000} s, medians of 2 runs)
  bare Fastify route + the same internal-auth check: ${h.bare.rps.toLocaleString('en-US')} req/s, p50 ${h.bare.p50Ms} ms, p99 ${h.bare.p99Ms} ms
  vault GET (Redis copy, AES-GCM open, audit job):    ${h.vault.rps.toLocaleString('en-US')} req/s, p50 ${h.vault.p50Ms} ms, p99 ${h.vault.p99Ms} ms
  ratio: ${h.ratio} of the bare route (target >= 0.5); p99 target < 5 ms
  at c=1: vault p50 ${results.httpC1.p50Ms} ms, p99 ${results.httpC1.p99Ms} ms (${results.httpC1.rps.toLocaleString('en-US')} req/s); bare p50 ${results.bareC1.p50Ms} ms, p99 ${results.bareC1.p99Ms} ms
client cached read (${results.cachedRead.reads.toLocaleString('en-US')} reads): p50 ${results.cachedRead.p50Ms} ms, p99 ${results.cachedRead.p99Ms} ms (target p99 << 1 ms)
rewrap job: ${results.rewrap.secrets.toLocaleString('en-US')} secrets in ${results.rewrap.seconds} s = ${results.rewrap.perSecond.toLocaleString('en-US')} /s, ${results.rewrap.ratio} of the store's insertMany-of-500 ceiling (${results.rewrap.ceilingDocsPerSecond.toLocaleString('en-US')} docs/s)`);
  }
} finally {
  for (const proc of [vault, bare]) if (proc && proc.child.exitCode === null) proc.child.kill('SIGTERM');
  await Promise.all([vault?.exited, bare?.exited]);
  await mongo
    .db(id)
    .dropDatabase()
    .catch(() => {});
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${id}:*`, 'COUNT', 500);
    cursor = next;
    if (keys.length) await redis.unlink(...keys);
  } while (cursor !== '0');
  redis.disconnect();
  await mongo.close();
}

function parseSenderKeys(kit) {
  return kit.parseInternalKeys('message-sender', { INTERNAL_AUTH_PRIVATE_KEY: sender.privateKey });
}

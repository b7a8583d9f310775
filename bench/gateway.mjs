// gateway, in one run: login and an authenticated GET (p50, p99, requests/s) next to a bare
// Fastify route doing the same access-token verification; then a quiet workspace's p99 on the
// send route alone and while a noisy workspace, its allowance for the minute already used,
// drives that route at 10x its limit (every one of its calls refused with 429).
//
// Usage: node bench/gateway.mjs [--json] [--duration-ms 10000] [--noisy-limit 1200] [--quiet-rate 20] [--rounds 1]
// Needs the infrastructure (`infra/infra.sh start`) and a built gateway (`pnpm --filter
// @wapi/gateway build`). Works under its own key prefix and database and removes them after.
import { createPrivateKey, createPublicKey, randomBytes } from 'node:crypto';
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

const { values: args } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    'duration-ms': { type: 'string', default: '10000' },
    'noisy-limit': { type: 'string', default: '1200' },
    'quiet-rate': { type: 'string', default: '20' },
    rounds: { type: 'string', default: '1' },
  },
});
const positive = (name) => positiveInt(args, name);
const durationMs = positive('duration-ms');
const noisyLimit = positive('noisy-limit');
const quietRate = positive('quiet-rate');
const rounds = positive('rounds');

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const gatewayDir = join(root, 'apps', 'gateway');
const say = (text) => !args.json && console.error(text);

/** The load generator with this run's duration and warm-up. */
const load = (options) => runHttpLoad({ warmupMs: 1_000, durationMs, ...options });

const infra = infraEnv();
const tag = `${process.pid}_${randomBytes(3).toString('hex')}`;
const prefix = `bench_gw_${tag}`;
const dbName = `wapi_bench_gw_${tag}`;
const seed = randomBytes(32);
const signing = createPrivateKey({
  key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]),
  format: 'der',
  type: 'pkcs8',
});
const publicPem = createPublicKey(signing).export({ format: 'pem', type: 'spki' }).toString();
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
  ACCESS_TOKEN_PRIVATE_KEY: seed.toString('base64url'),
  // Generous general limits: the first part measures the path, not the limiter's refusals.
  API_RATE_FREE: '1000000',
  PUBLIC_RATE_PER_IP: '1000000',
});
const bare = startProcess(join(here, 'gateway-bare-jwt.mjs'), [
  String(barePort),
  Buffer.from(publicPem).toString('base64'),
  'wapi-gateway',
  'wapi-api',
]);
const results = {};
try {
  await waitReady(`${base}/health/ready`, gateway);
  await waitReady(`http://127.0.0.1:${barePort}/bare`, bare);
  const post = async (path, body, token) => {
    const res = await fetch(`${base}${path}`, {
      method: path.includes('workspace') && !path.includes('signup') ? 'PATCH' : 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    });
    if (res.status >= 300) throw new Error(`${path}: ${res.status} ${await res.text()}`);
    return res.json();
  };
  const password = 'bench password 0123456789';
  const signup = (label) =>
    post('/api/v1/auth/signup', {
      email: `${label}.${tag}@bench.example.com`,
      password,
      name: label,
      workspaceName: `${label} workspace`,
    });
  const quiet = await signup('quiet');
  const noisy = await signup('noisy');
  const quietToken = quiet.tokens.accessToken;
  const noisyToken = noisy.tokens.accessToken;
  // The quiet workspace's own send limit is far away; the noisy one's is what it hammers at 10x.
  await post('/api/v1/workspace', { sendsPerMinute: 100_000 }, quietToken);
  await post('/api/v1/workspace', { sendsPerMinute: noisyLimit }, noisyToken);

  say('login (argon2id m=19 MiB, t=2) at c=4 …');
  results.login = await load({
    url: `${base}/api/v1/auth/login`,
    method: 'POST',
    body: { email: `quiet.${tag}@bench.example.com`, password },
    concurrency: 4,
  });
  say('authenticated GET /api/v1/workspace at c=50 …');
  results.authGet = await load({
    url: `${base}/api/v1/workspace`,
    headers: { authorization: `Bearer ${quietToken}` },
    concurrency: 50,
  });
  say('bare Fastify route, same JWT verification, at c=50 …');
  results.bareJwt = await load({
    url: `http://127.0.0.1:${barePort}/bare`,
    headers: { authorization: `Bearer ${quietToken}` },
    concurrency: 50,
  });

  /**
   * Sends as fast as 16 clients can until the workspace's send limit answers 429, and makes
   * sure the spent window outlasts the next measured run (else waits for the next window and
   * spends that). Returns how many calls were allowed.
   */
  const spend = async (token) => {
    let allowed = 0;
    for (;;) {
      let resetS = 0;
      const client = async () => {
        while (resetS === 0) {
          const res = await fetch(`${base}/api/v1/messages`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
            body: JSON.stringify({ to: '+919999000001', content: { type: 'text', text: { body: 'bench' } } }),
          });
          await res.arrayBuffer();
          if (res.status === 429) resetS = Number(res.headers.get('retry-after'));
          else allowed += 1;
        }
      };
      await Promise.all(Array.from({ length: 16 }, client));
      if (resetS * 1000 > durationMs + 3_000) return { allowed };
      await new Promise((resolve) => setTimeout(resolve, (resetS + 1) * 1000));
    }
  };
  const send = (token, ratePerSec) => ({
    url: `${base}/api/v1/messages`,
    method: 'POST',
    headers: { authorization: `Bearer ${token}` },
    body: { to: '+919999000001', content: { type: 'text', text: { body: 'bench' } } },
    ratePerSec,
  });
  const noisyRate = Math.ceil((noisyLimit * 10) / 60);
  // Alone and beside the noisy one, alternated `--rounds` times: the figure is the median of
  // the rounds' changes, so a background load that drifts during the run (other work on a
  // shared machine) does not decide it.
  results.rounds = [];
  for (let round = 1; round <= rounds; round++) {
    say(`round ${round}/${rounds}: quiet workspace alone: ${quietRate}/s on the send route …`);
    const alone = await load(send(quietToken, quietRate));
    // The noisy workspace first uses up its allowance of the current one-minute window (what
    // it may legitimately send), so the measured run is what the limit is for: every one of
    // its calls over the limit. Without this, a 10 s run at 10x the per-minute rate spends
    // most of its time inside the allowance (1,200 calls at 200/s take 6 s) and measures the
    // cost of the neighbour's permitted traffic, which no per-workspace limit can remove.
    say(`round ${round}/${rounds}: noisy workspace spends its ${noisyLimit}/min allowance …`);
    const spent = await spend(noisyToken);
    say(
      `round ${round}/${rounds}: quiet workspace beside a noisy one at ${noisyRate}/s (10x its ${noisyLimit}/min) …`,
    );
    const [withNoisy, noisy] = await Promise.all([
      load(send(quietToken, quietRate)),
      load(send(noisyToken, noisyRate)),
    ]);
    const change = Math.round((withNoisy.p99Ms / alone.p99Ms - 1) * 1000) / 10;
    results.rounds.push({ alone, withNoisy, noisy, spent, change });
  }
  const byChange = [...results.rounds].sort((a, b) => a.change - b.change);
  const median = byChange[Math.floor((byChange.length - 1) / 2)];
  results.quietAlone = median.alone;
  results.quietWithNoisy = median.withNoisy;
  results.noisy = median.noisy;
  results.noisySpent = median.spent;
  results.quietP99Change = median.change;
} finally {
  gateway.child.kill('SIGTERM');
  bare.child.kill('SIGTERM');
  await Promise.all([gateway.exited, bare.exited]);
  const mongo = await new MongoClient(infra.WAPI_MONGO_URL).connect();
  await mongo
    .db(dbName)
    .dropDatabase()
    .catch(() => undefined);
  await mongo.close();
  const { Redis } = createRequire(join(gatewayDir, 'package.json'))('ioredis');
  const redis = new Redis(infra.WAPI_REDIS_URL);
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
    cursor = next;
    if (keys.length > 0) await redis.unlink(...keys);
  } while (cursor !== '0');
  redis.disconnect();
}

if (args.json) {
  console.log(JSON.stringify(results));
} else {
  const row = (name, r) =>
    `| ${name} | ${r.p50Ms} | ${r.p99Ms} | ${r.rps} | ${Object.entries(r.statuses)
      .map(([s, n]) => `${s}×${n}`)
      .join(' ')}${r.errors ? ` errors×${r.errors}` : ''} |`;
  console.log('| scenario | p50 ms | p99 ms | req/s | answers |');
  console.log('|---|--:|--:|--:|---|');
  console.log(row('POST /api/v1/auth/login, c=4', results.login));
  console.log(row('GET /api/v1/workspace (JWT, one Redis MGET, limiter script), c=50', results.authGet));
  console.log(row('bare Fastify route, same JWT verification, c=50', results.bareJwt));
  console.log(row(`quiet workspace sends, ${quietRate}/s, alone`, results.quietAlone));
  console.log(row(`quiet workspace sends, ${quietRate}/s, beside the noisy one`, results.quietWithNoisy));
  console.log(row('noisy workspace sends at 10x its limit', results.noisy));
  console.log(
    `\nnoisy workspace's allowance spent before the run: ${results.noisySpent.allowed} calls allowed`,
  );
  if (rounds > 1)
    console.log(
      `\nper round (alone -> beside the noisy one, p99 ms): ${results.rounds
        .map((r) => `${r.alone.p99Ms} -> ${r.withNoisy.p99Ms} (${r.change}%)`)
        .join('; ')}; the table shows the median round`,
    );
  console.log(
    `\nquiet workspace p99 change with the noisy neighbour: ${results.quietP99Change}% (target: within 20%)`,
  );
}

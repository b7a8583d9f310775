// meta-sandbox as other services' load tests use it: accepted `POST /{pnid}/messages` per second
// with status webhooks (sent, delivered, read) delivered, signed, to a receiver — next to a bare
// Fastify route answering the same POST in the same run, with the sandbox's RSS.
// Target (issue 7): >= 3,000 accepted sends/s with webhooks on, on a 2-core machine.
//
// Usage: node bench/meta-sandbox-capacity.mjs [--json] [--duration-ms 10000] [--concurrency 64]
//          [--max-sends 200000] [--numbers 8] [--batch-max 20]
// Needs a built sandbox (`pnpm --filter @wapi/meta-sandbox build`) and Redis (`bash infra/infra.sh
// start`; the sandbox only checks it for readiness). Loopback only; every phase is bounded in
// time, the load in count too. Three processes share the cores: the sandbox, a load generator,
// and this one (the webhook receiver).
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  cpuMsOf,
  freePort,
  memoryOf,
  infraEnv as readInfraEnv,
  startProcess,
  waitReady,
} from './lib/harness.mjs';

// ---- the load generator: this file run again as a child (`--load '<json>'`), so it does not
// share an event loop with the receiver. Closed loop: `concurrency` POSTs in flight.
if (process.argv[2] === '--load') {
  const { base, paths, token, concurrency, durationMs, maxSends, warmupMs } = JSON.parse(process.argv[3]);
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const target = new URL(base);
  const statuses = {};
  let sent = 0;
  let errors = 0;
  let totalOk = 0;
  let measuring = false;
  let stopped = false;
  let measuredStart = 0;
  let n = 0;
  const send = () =>
    new Promise((resolve) => {
      const i = n++;
      // Recipients spread wide: the pair rate (§5.2) is per business number x user.
      const body = JSON.stringify({
        messaging_product: 'whatsapp',
        to: `1650${String(1_000_000 + (i % 8_000_000)).padStart(7, '0')}`,
        type: 'template',
        template: { name: 'order_update', language: { code: 'en_US' } },
      });
      const req = http.request(
        {
          agent,
          host: target.hostname,
          port: target.port,
          path: paths[i % paths.length],
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        },
        (res) => {
          res.resume();
          res.on('end', () => {
            if (res.statusCode === 200) totalOk++;
            if (measuring) statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1;
            resolve();
          });
        },
      );
      req.on('error', () => {
        if (measuring) errors++;
        resolve();
      });
      req.end(body);
    });
  const loop = async () => {
    while (!stopped) {
      if (measuring && sent >= maxSends) break;
      if (measuring) sent++;
      await send();
    }
  };
  const loops = Array.from({ length: concurrency }, loop);
  await new Promise((r) => setTimeout(r, warmupMs));
  measuring = true;
  measuredStart = Date.now();
  const timer = setTimeout(() => {
    stopped = true;
  }, durationMs);
  await Promise.all(loops);
  clearTimeout(timer);
  const elapsedMs = Date.now() - measuredStart;
  measuring = false;
  process.stdout.write(`${JSON.stringify({ statuses, errors, elapsedMs, totalOk })}\n`);
  agent.destroy();
  process.exit(0);
}

const { values: args } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    'duration-ms': { type: 'string', default: '10000' },
    concurrency: { type: 'string', default: '64' },
    'max-sends': { type: 'string', default: '200000' },
    numbers: { type: 'string', default: '8' },
    // SANDBOX_WEBHOOK_BATCH_MAX of the sandbox (its default is 20; Meta batches up to 1,000).
    'batch-max': { type: 'string', default: '20' },
  },
});
const durationMs = Number(args['duration-ms']);
const concurrency = Number(args.concurrency);
const maxSends = Number(args['max-sends']);
const numberCount = Number(args.numbers);
const batchMax = Number(args['batch-max']);
for (const [name, value] of Object.entries({ durationMs, concurrency, maxSends, numberCount, batchMax }))
  if (!Number.isInteger(value) || value <= 0) {
    console.error(
      `${name} must be a positive integer (e.g. --duration-ms 10000 --concurrency 64 --max-sends 200000 --numbers 8)`,
    );
    process.exit(2);
  }
const say = (line) => {
  if (!args.json) console.log(line);
};

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const sandboxDir = join(root, 'apps', 'meta-sandbox');
const sandboxEntry = join(sandboxDir, 'dist', 'server.js');
const infraEnv = readInfraEnv();
const redisUrl = infraEnv.WAPI_REDIS_URL ?? infraEnv.REDIS_URL;
if (!redisUrl) {
  console.error('.infra/env has no WAPI_REDIS_URL: restart the infrastructure (bash infra/infra.sh start)');
  process.exit(2);
}
try {
  readFileSync(sandboxEntry);
} catch {
  console.error(`no ${sandboxEntry}: build it first (pnpm --filter @wapi/meta-sandbox build)`);
  process.exit(2);
}

async function runLoad(base, paths, token) {
  const load = startProcess(fileURLToPath(import.meta.url), [
    '--load',
    JSON.stringify({ base, paths, token, concurrency, durationMs, maxSends, warmupMs: 2_000 }),
  ]);
  const result = await Promise.race([
    load.exited,
    new Promise((r) => setTimeout(() => r({ timeout: true }), durationMs + 30_000)),
  ]);
  if (result.timeout) {
    load.child.kill('SIGKILL');
    throw new Error('the load generator did not finish in time');
  }
  const line = load.output().trim().split('\n').pop();
  return JSON.parse(line);
}

// ---- the receiver (this process): checks every signature over the received bytes (§3.2)
// and counts the statuses, as a webhook-ingest would before queueing them.
const APP_SECRET = 'bench-capacity-app-secret';
const receiver = { posts: 0, statuses: 0, badSignatures: 0, lastAt: 0 };
const receiverServer = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    const expected = Buffer.from(`sha256=${createHmac('sha256', APP_SECRET).update(body).digest('hex')}`);
    const given = Buffer.from(String(req.headers['x-hub-signature-256'] ?? ''));
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) receiver.badSignatures++;
    receiver.posts++;
    const text = body.toString('latin1');
    for (let i = text.indexOf('"recipient_id"'); i !== -1; i = text.indexOf('"recipient_id"', i + 1))
      receiver.statuses++;
    receiver.lastAt = Date.now();
    res.writeHead(200).end();
  });
});
receiverServer.keepAliveTimeout = 30_000;
await new Promise((r) => receiverServer.listen(0, '127.0.0.1', r));
const receiverUrl = `http://127.0.0.1:${receiverServer.address().port}/webhook`;

const scratch = join(tmpdir(), `wapi-bench-capacity-${process.pid}`);
mkdirSync(scratch, { recursive: true });
const numbers = Array.from({ length: numberCount }, (_, i) => ({
  id: String(300000000000001 + i),
  display: `1555078${String(3000 + i).padStart(4, '0')}`,
  // §5.1: 1,000 mps is the most a number gets; several numbers carry the load.
  throughputMps: 1_000,
  messagingLimit: 'TIER_UNLIMITED',
}));
const TOKEN = 'EAAbenchcapacitytoken01';
const seedFile = join(scratch, 'seed.json');
writeFileSync(
  seedFile,
  JSON.stringify({
    apps: [{ id: '100000000000001', secret: APP_SECRET, callbackUrl: receiverUrl }],
    wabas: [{ id: '200000000000001', subscribedApps: ['100000000000001'], phoneNumbers: numbers }],
    tokens: [{ value: TOKEN, appId: '100000000000001' }],
    templates: [
      {
        wabaId: '200000000000001',
        name: 'order_update',
        language: 'en_US',
        category: 'UTILITY',
        components: [{ type: 'BODY', text: 'Your order has shipped.' }],
      },
    ],
  }),
);
// The bare route: Fastify answering the same POST with a constant body of the same shape.
// Written beside the sandbox so `fastify` resolves from its dependencies.
const bareDir = join(sandboxDir, 'node_modules', '.cache', 'wapi-bench');
mkdirSync(bareDir, { recursive: true });
const bareEntry = join(bareDir, 'bare-messages-route.mjs');
writeFileSync(
  bareEntry,
  `import Fastify from 'fastify';
   const app = Fastify({ logger: false });
   let n = 0;
   app.post('/v23.0/:id/messages', async (request) => ({
     messaging_product: 'whatsapp',
     contacts: [{ input: request.body.to, wa_id: request.body.to }],
     messages: [{ id: 'wamid.bench' + n++, message_status: 'accepted' }],
   }));
   app.get('/health/ready', async () => ({ ok: true }));
   await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT) });`,
);

const results = {};
let sandbox;
let bare;
try {
  const barePort = await freePort();
  bare = startProcess(bareEntry, [], { PORT: String(barePort) });
  await waitReady(`http://127.0.0.1:${barePort}/health/ready`, bare);
  const bareCpuBefore = cpuMsOf(bare.child.pid) / 1000;
  say(`bare Fastify route: ${concurrency} in flight for ${durationMs} ms…`);
  const bareRun = await runLoad(`http://127.0.0.1:${barePort}`, ['/v23.0/1/messages'], TOKEN);
  const bareCpu = cpuMsOf(bare.child.pid) / 1000 - bareCpuBefore;
  bare.child.kill('SIGTERM');
  await bare.exited;
  const bareOk = bareRun.statuses['200'] ?? 0;
  results.bare = {
    accepted: bareOk,
    perSecond: Math.round((bareOk * 1000) / bareRun.elapsedMs),
    cpuMsPerAnswer: Math.round((bareCpu * 1000 * 1000) / bareRun.totalOk) / 1000,
  };

  const sandboxPort = await freePort();
  sandbox = startProcess(sandboxEntry, [], {
    PORT: String(sandboxPort),
    HOST: '127.0.0.1',
    REDIS_URL: redisUrl,
    LOG_LEVEL: 'error',
    SANDBOX_SEED_FILE: seedFile,
    SANDBOX_ADMIN_TOKEN: randomBytes(24).toString('hex'),
    SANDBOX_PAIR_BURST: '1000',
    SANDBOX_WEBHOOK_BATCH_MAX: String(batchMax),
  });
  await waitReady(`http://127.0.0.1:${sandboxPort}/health/ready`, sandbox);
  const idle = memoryOf(sandbox.child.pid);
  const cpuBefore = cpuMsOf(sandbox.child.pid) / 1000;
  say(
    `meta-sandbox (${numberCount} numbers at 1,000 mps, webhook batches up to ${batchMax}): ${concurrency} in flight for ${durationMs} ms…`,
  );
  let peakRssMb = idle.rssMb;
  const sampler = setInterval(() => {
    peakRssMb = Math.max(peakRssMb, memoryOf(sandbox.child.pid).rssMb);
  }, 250);
  const run = await runLoad(
    `http://127.0.0.1:${sandboxPort}`,
    numbers.map((n) => `/v23.0/${n.id}/messages`),
    TOKEN,
  );
  const loadEndedAt = Date.now();
  const accepted = run.statuses['200'] ?? 0;
  // Every accepted send (warm-up included) yields sent, delivered and read (default customers
  // have read receipts on); wait, bounded, until the receiver has them all.
  const expected = run.totalOk * 3;
  const drainDeadline = Date.now() + 60_000;
  while (receiver.statuses < expected && Date.now() < drainDeadline)
    await new Promise((r) => setTimeout(r, 100));
  clearInterval(sampler);
  const after = memoryOf(sandbox.child.pid);
  const cpu = cpuMsOf(sandbox.child.pid) / 1000 - cpuBefore;
  results.sandbox = {
    accepted,
    refused: Object.entries(run.statuses)
      .filter(([code]) => code !== '200')
      .reduce((sum, [, count]) => sum + count, 0),
    statusCodes: run.statuses,
    errors: run.errors,
    perSecond: Math.round((accepted * 1000) / run.elapsedMs),
    statusesDelivered: receiver.statuses,
    statusesExpected: expected,
    webhookPosts: receiver.posts,
    badSignatures: receiver.badSignatures,
    drainMs: Math.max(0, receiver.lastAt - loadEndedAt),
    // CPU the sandbox spent per accepted send, its three status webhooks included: what one
    // core sustains (1000 / this) when the machine is not shared with other load.
    cpuMsPerSend: Math.round((cpu * 1000 * 1000) / run.totalOk) / 1000,
    rssMb: { idle: idle.rssMb, peakSampled: peakRssMb, peakKernel: after.peakRssMb, after: after.rssMb },
  };
  results.ratio = Math.round((results.sandbox.perSecond / results.bare.perSecond) * 100) / 100;
  results.sendsPerCpuSecond = Math.round(1000 / results.sandbox.cpuMsPerSend);
  results.target = {
    perSecond: 3_000,
    met: results.sandbox.perSecond >= 3_000 && receiver.statuses >= expected,
  };

  if (args.json) console.log(JSON.stringify(results));
  else {
    const s = results.sandbox;
    console.log(`
bare Fastify POST route: ${results.bare.perSecond.toLocaleString('en-US')} answers/s, ${results.bare.cpuMsPerAnswer} ms CPU per answer
meta-sandbox: ${s.perSecond.toLocaleString('en-US')} accepted sends/s (${s.accepted.toLocaleString('en-US')} in ${durationMs} ms, ${s.refused} refused ${JSON.stringify(s.statusCodes)}), ratio ${results.ratio} of the bare route
  webhooks: ${s.statusesDelivered.toLocaleString('en-US')} of ${s.statusesExpected.toLocaleString('en-US')} statuses in ${s.webhookPosts.toLocaleString('en-US')} signed POSTs (${s.badSignatures} bad signatures), last one ${s.drainMs} ms after the load stopped
  CPU: ${s.cpuMsPerSend} ms per accepted send with its webhooks = ${results.sendsPerCpuSecond.toLocaleString('en-US')} sends per CPU-second
  RSS: ${s.rssMb.idle} MB idle, ${s.rssMb.peakKernel} MB peak, ${s.rssMb.after} MB after
  target >= 3,000 accepted sends/s with every status delivered: ${results.target.met ? 'met' : 'NOT met'}`);
  }
} finally {
  for (const proc of [sandbox, bare]) if (proc && proc.child.exitCode === null) proc.child.kill('SIGTERM');
  await Promise.all([sandbox?.exited, bare?.exited]);
  receiverServer.closeAllConnections();
  receiverServer.close();
  rmSync(scratch, { recursive: true, force: true });
}

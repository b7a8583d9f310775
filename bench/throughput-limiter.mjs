// Real-time throughput limiter (reference §5.1) over HTTP: a 10 s burst of template sends to a
// meta-sandbox number configured at RATE mps, as fast as CONCURRENCY callers can go.
// Prints the admitted rate next to the configured one and their ratio (target: within 5%).
//
// Usage: node bench/throughput-limiter.mjs   (needs apps/meta-sandbox built and Redis on 127.0.0.1:16379)
//   RATE=80 DURATION_S=10 CONCURRENCY=32 REDIS_URL=redis://127.0.0.1:16379

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const RATE = Number(process.env.RATE ?? 80);
const DURATION_S = Number(process.env.DURATION_S ?? 10);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 32);
const PORT = 7190 + Math.floor(Math.random() * 100);
const seed = join(tmpdir(), `bench-seed-${process.pid}.json`);
writeFileSync(
  seed,
  JSON.stringify({
    apps: [{ id: '1', secret: 'bench-secret' }],
    wabas: [{ id: '2', phoneNumbers: [{ id: '3', display: '15550783881', throughputMps: RATE }] }],
    tokens: [{ value: 'EAAbench0001', appId: '1' }],
    templates: [
      {
        wabaId: '2',
        name: 'hello',
        language: 'en_US',
        category: 'UTILITY',
        components: [{ type: 'BODY', text: 'Hi.' }],
      },
    ],
  }),
);
const child = spawn(
  process.execPath,
  [new URL('../apps/meta-sandbox/dist/server.js', import.meta.url).pathname],
  {
    env: {
      PATH: process.env.PATH,
      PORT: String(PORT),
      REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:16379',
      LOG_LEVEL: 'error',
      SANDBOX_SEED_FILE: seed,
      SANDBOX_ADMIN_TOKEN: randomBytes(24).toString('hex'),
      SANDBOX_PAIR_BURST: '1000',
    },
    stdio: 'inherit',
  },
);

const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
function post(to) {
  const body = JSON.stringify({
    messaging_product: 'whatsapp',
    to,
    type: 'template',
    template: { name: 'hello', language: { code: 'en_US' } },
  });
  return new Promise((resolve) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: PORT,
        path: '/v23.0/3/messages',
        method: 'POST',
        agent,
        headers: { authorization: 'Bearer EAAbench0001', 'content-type': 'application/json' },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode));
      },
    );
    req.on('error', () => resolve(0));
    req.end(body);
  });
}

for (let i = 0; i < 100; i++) {
  if ((await post('16505550000').catch(() => 0)) !== 0) break;
  await new Promise((r) => setTimeout(r, 100));
}
await new Promise((r) => setTimeout(r, 1_100)); // let the warm-up's quota leave the window

let admitted = 0;
let refused = 0;
let n = 0;
const start = performance.now();
const end = start + DURATION_S * 1_000;
async function caller() {
  while (performance.now() < end) {
    const status = await post(`1650${String(1_000_000 + (n++ % 5_000_000)).padStart(7, '0')}`);
    if (status === 200) admitted++;
    else refused++;
  }
}
await Promise.all(Array.from({ length: CONCURRENCY }, caller));
const elapsed = (performance.now() - start) / 1_000;
const rate = admitted / elapsed;
console.log(
  `configured ${RATE} msg/s; burst of ${elapsed.toFixed(2)} s: ${admitted} admitted, ${refused} refused (130429), ${((admitted + refused) / elapsed) | 0} req/s offered`,
);
console.log(
  `admitted rate ${rate.toFixed(2)} msg/s, ratio to configured ${(rate / RATE).toFixed(4)} (${Math.abs(rate / RATE - 1) <= 0.05 ? 'within' : 'OUTSIDE'} 5%)`,
);
child.kill('SIGTERM');
agent.destroy();

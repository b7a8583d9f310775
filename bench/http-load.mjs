// The HTTP load generator every service benchmark runs as its own process, so it shares no
// event loop with the server it measures. Closed loop (`concurrency` requests in flight) or, with `ratePerSec`, open
// loop (requests started on a fixed schedule whatever the answers, as independent clients do).
// Usage: node bench/http-load.mjs '<json: { url, method, headers, body, concurrency, ratePerSec, durationMs, warmupMs }>'
// Prints one JSON line: { requests, errors, rps, p50Ms, p99Ms, statuses }.
import http from 'node:http';

const {
  url,
  method = 'GET',
  headers = {},
  body,
  concurrency = 50,
  ratePerSec,
  durationMs = 10_000,
  warmupMs = 2_000,
} = JSON.parse(process.argv[2]);
const agent = new http.Agent({ keepAlive: true, maxSockets: ratePerSec ? 256 : concurrency });
const target = new URL(url);
const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
const latencies = [];
const statuses = {};
let errors = 0;
let measuring = false;
let stopped = false;

function once() {
  return new Promise((resolve) => {
    const counted = measuring;
    const started = process.hrtime.bigint();
    const req = http.request(
      {
        agent,
        host: target.hostname,
        port: target.port,
        path: target.pathname + target.search,
        method,
        headers: payload
          ? { ...headers, 'content-type': 'application/json', 'content-length': payload.length }
          : headers,
      },
      (res) => {
        res.resume();
        res.on('end', () => {
          if (counted) {
            latencies.push(Number(process.hrtime.bigint() - started) / 1e6);
            statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1;
          }
          resolve();
        });
      },
    );
    req.on('error', () => {
      if (counted) errors++;
      resolve();
    });
    req.end(payload);
  });
}

const pending = [];
if (ratePerSec) {
  const interval = 1000 / ratePerSec;
  let next = performance.now();
  const tick = () => {
    if (stopped) return;
    const now = performance.now();
    while (next <= now) {
      pending.push(once());
      next += interval;
    }
    setTimeout(tick, Math.max(0, next - performance.now()));
  };
  tick();
} else {
  const loop = async () => {
    while (!stopped) await once();
  };
  for (let i = 0; i < concurrency; i++) pending.push(loop());
}
await new Promise((r) => setTimeout(r, warmupMs));
measuring = true;
const start = Date.now();
await new Promise((r) => setTimeout(r, durationMs));
measuring = false;
const elapsed = Date.now() - start;
stopped = true;
await Promise.all(pending);
latencies.sort((a, b) => a - b);
const at = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? null;
const round = (n) => (n === null ? null : Math.round(n * 100) / 100);
process.stdout.write(
  `${JSON.stringify({ requests: latencies.length, errors, rps: Math.round((latencies.length * 1000) / elapsed), p50Ms: round(at(0.5)), p99Ms: round(at(0.99)), statuses })}\n`,
);
agent.destroy();

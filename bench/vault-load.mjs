// A closed-loop HTTP load generator for one GET URL, run as its own process so that it does
// not share an event loop with the server it measures. `c` requests in flight over
// keep-alive connections for `durationMs` after `warmupMs`.
// Usage: node bench/vault-load.mjs '<json: { url, headers, concurrency, durationMs, warmupMs }>'
// Prints one JSON line: { requests, errors, rps, p50Ms, p99Ms, statuses }.
import http from 'node:http';

const {
  url,
  headers = {},
  concurrency = 50,
  durationMs = 10_000,
  warmupMs = 2_000,
} = JSON.parse(process.argv[2]);
const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
const target = new URL(url);
const latencies = [];
const statuses = {};
let errors = 0;
let measuring = false;
let stopped = false;

function once() {
  return new Promise((resolve) => {
    const started = process.hrtime.bigint();
    const req = http.request(
      {
        agent,
        host: target.hostname,
        port: target.port,
        path: target.pathname + target.search,
        method: 'GET',
        headers,
      },
      (res) => {
        res.resume();
        res.on('end', () => {
          if (measuring) {
            latencies.push(Number(process.hrtime.bigint() - started) / 1e6);
            statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1;
          }
          resolve();
        });
      },
    );
    req.on('error', () => {
      if (measuring) errors++;
      resolve();
    });
    req.end();
  });
}

async function loop() {
  while (!stopped) await once();
}

const loops = Array.from({ length: concurrency }, loop);
await new Promise((r) => setTimeout(r, warmupMs));
measuring = true;
const start = Date.now();
await new Promise((r) => setTimeout(r, durationMs));
measuring = false;
const elapsed = Date.now() - start;
stopped = true;
await Promise.all(loops);
latencies.sort((a, b) => a - b);
const at = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? null;
const round = (n) => (n === null ? null : Math.round(n * 100) / 100);
process.stdout.write(
  `${JSON.stringify({ requests: latencies.length, errors, rps: Math.round((latencies.length * 1000) / elapsed), p50Ms: round(at(0.5)), p99Ms: round(at(0.99)), statuses })}\n`,
);
agent.destroy();

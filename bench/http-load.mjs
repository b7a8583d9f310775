// The HTTP load generator every service benchmark runs as its own process, so it shares no
// event loop with the server it measures: one fixed request, closed or open loop (lib/load-loop.mjs).
// Usage: node bench/http-load.mjs '<json: { url, method, headers, body, concurrency, ratePerSec, durationMs, warmupMs }>'
// Prints `measuring` and `stopped` around the measured window, then one JSON line:
// { requests, errors, rps, p50Ms, p99Ms, statuses }.
import { runLoad } from './lib/load-loop.mjs';

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
const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
const request = {
  headers: payload ? { ...headers, 'content-type': 'application/json' } : headers,
  body: payload,
};
const result = await runLoad({
  url,
  method,
  concurrency,
  ratePerSec,
  durationMs,
  warmupMs,
  next: () => request,
});
process.stdout.write(
  `${JSON.stringify({ requests: result.requests, errors: result.errors, rps: Math.round((result.requests * 1000) / result.elapsedMs), p50Ms: result.p50Ms, p99Ms: result.p99Ms, statuses: result.statuses })}\n`,
);

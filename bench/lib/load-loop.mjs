// The measured HTTP request loop of the load generators (bench/http-load.mjs and
// bench/webhook-ingest-load.mjs), each run as its own process so that it shares no event loop
// with the server it measures.
import http from 'node:http';

/**
 * Sends requests to `url` for `warmupMs`, then measures for `durationMs`: closed loop
 * (`concurrency` requests in flight) or, with `ratePerSec`, open loop (requests started on a
 * fixed schedule whatever the answers, as independent clients do). `next()` gives each
 * request's `{ headers, body }` (body: a Buffer or undefined). Writes `measuring` and `stopped`
 * lines around the measured window (a caller may sample CPU over it) and answers
 * `{ requests, ok, errors, elapsedMs, p50Ms, p99Ms, statuses, cpuMs }` for the requests started
 * in the window (`ok`: answered 200; `cpuMs`: this process's CPU in the window).
 */
export async function runLoad({
  url,
  method = 'GET',
  concurrency = 50,
  ratePerSec,
  durationMs,
  warmupMs,
  next,
}) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: ratePerSec ? 256 : concurrency });
  const target = new URL(url);
  const latencies = [];
  const statuses = {};
  let errors = 0;
  let measuring = false;
  let stopped = false;

  function once() {
    const { headers, body } = next();
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
          headers: body ? { ...headers, 'content-length': body.length } : headers,
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
      req.end(body);
    });
  }

  const pending = [];
  if (ratePerSec) {
    const interval = 1000 / ratePerSec;
    let due = performance.now();
    const tick = () => {
      if (stopped) return;
      const now = performance.now();
      while (due <= now) {
        pending.push(once());
        due += interval;
      }
      setTimeout(tick, Math.max(0, due - performance.now()));
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
  process.stdout.write('measuring\n');
  const start = Date.now();
  const cpuStart = process.cpuUsage();
  await new Promise((r) => setTimeout(r, durationMs));
  measuring = false;
  const elapsedMs = Date.now() - start;
  const cpu = process.cpuUsage(cpuStart);
  process.stdout.write('stopped\n');
  stopped = true;
  await Promise.all(pending);
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const at = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? null;
  const round = (n) => (n === null ? null : Math.round(n * 100) / 100);
  return {
    requests: latencies.length,
    ok: statuses[200] ?? 0,
    errors,
    elapsedMs,
    p50Ms: round(at(0.5)),
    p99Ms: round(at(0.99)),
    statuses,
    cpuMs: Math.round((cpu.user + cpu.system) / 1000),
  };
}

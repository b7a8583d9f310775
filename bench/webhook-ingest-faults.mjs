// webhook-ingest fault scenario at the length: apps/webhook-ingest/test/faults.test.ts
// (a sustained meta-sandbox stream while webhook-ingest is SIGKILLed and restarted, a private
// Redis is SIGKILLed without persistence and restarted empty, and a private FerretDB is
// stopped and restarted; every message must be emitted exactly once) with each outage 30 s
// instead of the suite's 5 s. Took 115 s on the busy 2-core machine (2026-11-30).
//
// Usage: node bench/webhook-ingest-faults.mjs [--outage-ms 30000]
//   needs `bash infra/infra.sh start` and built webhook-ingest and meta-sandbox
//   (pnpm --filter @wapi/webhook-ingest --filter @wapi/meta-sandbox build).
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { repoRoot } from './lib/harness.mjs';

const { values: args } = parseArgs({ options: { 'outage-ms': { type: 'string', default: '30000' } } });
const outageMs = Number(args['outage-ms']);
if (!Number.isInteger(outageMs) || outageMs < 1_000) {
  console.error('--outage-ms must be an integer of at least 1000');
  process.exit(2);
}
const cwd = join(repoRoot, 'apps/webhook-ingest');
const started = Date.now();
const run = spawnSync(join(repoRoot, 'node_modules/.bin/vitest'), ['run', 'test/faults.test.ts'], {
  cwd,
  stdio: 'inherit',
  env: { ...process.env, WEBHOOK_FAULT_OUTAGE_MS: String(outageMs) },
});
const seconds = Math.round((Date.now() - started) / 1000);
console.log(
  `webhook-ingest faults, outages of ${outageMs} ms: ${run.status === 0 ? 'passed' : 'FAILED'} in ${seconds} s`,
);
process.exit(run.status ?? 1);

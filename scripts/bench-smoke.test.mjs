import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { useTestContext } from '@wapi/testkit';
import { describe, expect, it } from 'vitest';

// Benchmarks are not part of the suite, but they must not rot: each runs here once on tiny
// settings against the test infrastructure and must produce its report.
const root = join(import.meta.dirname, '..');
const ctx = useTestContext('bench');

describe('bench/store-ceiling.mjs', () => {
  it('measures every ceiling on tiny settings and reports them as JSON, with the query plans', () => {
    const run = spawnSync(
      process.execPath,
      [
        join(root, 'bench', 'store-ceiling.mjs'),
        '--json',
        '--duration-ms',
        '50',
        '--max-ops',
        '50',
        '--sizes',
        '20',
      ],
      { env: { ...process.env, MONGO_URL: ctx.infra.mongoUrl }, encoding: 'utf8', timeout: 60_000 },
    );
    expect(run.status, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout);
    const ids = report.ceilings.map((ceiling) => ceiling.id);
    for (const operation of ['insertOne', 'insertMany', 'updateOne', 'bulkWrite', 'findOne'])
      expect(
        ids.some((id) => id.startsWith(`${operation}.`)),
        operation,
      ).toBe(true);
    for (const ceiling of report.ceilings) expect(ceiling.rate, ceiling.id).toBeGreaterThan(0);
  }, 90_000);
});

describe('bench/message-sender.mjs', () => {
  it('runs every scenario at tiny sizes against the built sandbox and sender and reports each', () => {
    const run = spawnSync(
      process.execPath,
      [join(root, 'bench', 'message-sender.mjs'), '--smoke', '--json'],
      {
        encoding: 'utf8',
        timeout: 120_000,
      },
    );
    expect(run.status, run.stderr).toBe(0);
    const { results } = JSON.parse(run.stdout);
    expect(results.map((r) => r.name)).toEqual([
      'A_50_at_80',
      'B_one_number_1000',
      'C_20_numbers_80',
      'D_other_10_behind_200',
    ]);
    // Rates and 130429 counts depend on the machine's load: the figures are the bench's to
    // report, not this test's to judge. What it checks is that every scenario sent.
    for (const r of results) expect(r.messages, r.name).toBeGreaterThan(0);
  }, 150_000);
});

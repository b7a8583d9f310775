#!/usr/bin/env node
// Totals vitest's JSON reports of every package and prints the closing line CI reads:
// "N passed, N failed" (", N skipped" when any). A package with a test script but no
// report (its run crashed before reporting) counts as one failure, and so does every
// failed check task (lint, check-types, check-deps, build) in turbo's run summary.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
let passed = 0;
let failed = 0;
let skipped = 0;
const rows = [];

// Every workspace package: packages/*, apps/*, and the repository's own scripts/ and bench/.
const dirs = [
  ...['packages', 'apps'].flatMap((group) =>
    readdirSync(join(root, group))
      .sort()
      .map((name) => join(root, group, name)),
  ),
  join(root, 'scripts'),
  join(root, 'bench'),
];
for (const dir of dirs) {
  const pkgPath = join(dir, 'package.json');
  if (!existsSync(pkgPath)) continue;
  const pkg = JSON.parse(readFileSync(pkgPath, 'utf8'));
  if (!pkg.scripts?.test) continue;
  const report = join(dir, '.test-results', 'vitest.json');
  if (!existsSync(report)) {
    failed += 1;
    rows.push(`${pkg.name}: no test report (the test run crashed or did not run; see its output above)`);
    continue;
  }
  const r = JSON.parse(readFileSync(report, 'utf8'));
  const p = r.numPassedTests ?? 0;
  // A file that fails to load (syntax error, failing hook) has no failed test but is a
  // failed file: count it once so that it cannot pass unnoticed.
  const brokenFiles = (r.testResults ?? []).filter(
    (file) => file.status === 'failed' && !(file.assertionResults ?? []).some((t) => t.status === 'failed'),
  ).length;
  let f = (r.numFailedTests ?? 0) + brokenFiles;
  // Vitest also fails a run for unhandled errors and teardown failures that belong to
  // no test; such a run must not total as "0 failed".
  if (r.success === false && f === 0) f = 1;
  const s = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
  passed += p;
  failed += f;
  skipped += s;
  rows.push(`${pkg.name}: ${p} passed, ${f} failed${s ? `, ${s} skipped` : ''}`);
}

// turbo --summarize writes .turbo/runs/<id>.json; the newest one is this run's.
const runsDir = join(root, '.turbo', 'runs');
if (existsSync(runsDir)) {
  const newest = readdirSync(runsDir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => join(runsDir, f))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
  const summary = newest ? JSON.parse(readFileSync(newest, 'utf8')) : { tasks: [] };
  for (const task of summary.tasks ?? []) {
    if (task.task === 'test') continue; // counted test by test above
    const code = task.execution?.exitCode;
    if (code !== undefined && code !== null && code !== 0) {
      failed += 1;
      rows.push(`${task.taskId}: failed (exit ${code}); see its output above`);
    }
  }
}

for (const row of rows) console.log(`  ${row}`);
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 ? 1 : 0);

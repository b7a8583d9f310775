// Store ceilings: insertOne, insertMany, updateOne/bulkWrite by _id and findOne by _id or by an
// indexed field, against whatever MONGO_URL points at. Prints a table (or JSON with --json).
// Later service benchmarks call measureStoreCeilings() from ./lib/store-ceilings.mjs in the
// same run and report their figure as a ratio to the matching ceiling.
//
// Usage: node bench/store-ceiling.mjs [--json] [--duration-ms 2000] [--max-ops 20000] [--sizes 1000,20000]
//   MONGO_URL (default: WAPI_MONGO_URL from .infra/env, i.e. `infra/infra.sh start`'s FerretDB)
// It works in its own database (wapi_bench_ceiling_<pid>_<random>) and drops it at the end.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { MongoClient } from 'mongodb';
import { formatCeilingTable, measureStoreCeilings } from './lib/store-ceilings.mjs';

const { values: args } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    'duration-ms': { type: 'string', default: '2000' },
    'max-ops': { type: 'string', default: '20000' },
    sizes: { type: 'string', default: '1000,20000' },
  },
});
const positive = (name, text) => {
  const n = Number(text);
  if (!Number.isInteger(n) || n <= 0) {
    console.error(`--${name}=${text} is not a positive integer; e.g. --${name} 2000`);
    process.exit(2);
  }
  return n;
};
const durationMs = positive('duration-ms', args['duration-ms']);
const maxOps = positive('max-ops', args['max-ops']);
const sizes = args.sizes.split(',').map((s) => positive('sizes', s));

function mongoUrl() {
  if (process.env.MONGO_URL) return process.env.MONGO_URL;
  const root = join(dirname(fileURLToPath(import.meta.url)), '..');
  const envFile = join(process.env.WAPI_INFRA_DIR ?? join(root, '.infra'), 'env');
  let text;
  try {
    text = readFileSync(envFile, 'utf8');
  } catch {
    console.error(
      `MONGO_URL is not set and ${envFile} does not exist. Run 'bash infra/infra.sh start' or set MONGO_URL.`,
    );
    process.exit(2);
  }
  const url = /^WAPI_MONGO_URL=(.+)$/m.exec(text)?.[1];
  if (!url) {
    console.error(`${envFile} has no WAPI_MONGO_URL. Run 'bash infra/infra.sh start' or set MONGO_URL.`);
    process.exit(2);
  }
  return url.trim();
}

const client = new MongoClient(mongoUrl(), { maxPoolSize: 60, serverSelectionTimeoutMS: 5000 });
const dbName = `wapi_bench_ceiling_${process.pid}_${randomBytes(3).toString('hex')}`;
const db = client.db(dbName);
let dropping;
const dropAndClose = () => {
  dropping ??= db
    .dropDatabase()
    .catch((e) => console.error(`could not drop ${dbName} (${e.message}); drop it by hand`))
    .finally(() => client.close());
  return dropping;
};
process.once('SIGINT', () => dropAndClose().finally(() => process.exit(130)));

try {
  await client.connect();
  const started = performance.now();
  const report = await measureStoreCeilings(db, {
    durationMs,
    maxOps,
    sizes,
    progress: (line) => console.error(line),
  });
  const seconds = ((performance.now() - started) / 1000).toFixed(0);
  if (args.json) {
    console.log(JSON.stringify(report, null, 2));
  } else {
    const server = report.server.ferretdbVersion
      ? `FerretDB ${report.server.ferretdbVersion}`
      : `MongoDB ${report.server.version}`;
    console.log(`\nstore ceilings: ${server}, ${report.docBytes}-byte documents, ${seconds} s\n`);
    console.log(formatCeilingTable(report));
  }
} catch (error) {
  console.error(
    `store-ceiling failed: ${error.message}. Is the server at MONGO_URL up? (bash infra/infra.sh status)`,
  );
  process.exitCode = 1;
} finally {
  await dropAndClose();
}

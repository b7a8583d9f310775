// Store ceilings: what the MongoDB-compatible server behind a connection can do at best, for the
// operations our services are built from. A service benchmark divides its own figure by the
// matching ceiling measured in the same run (see docs/performance.md and bench/README.md).
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { BSON } from 'mongodb';

/**
 * @typedef {object} CeilingOptions
 * @property {number} [durationMs] time budget of each measurement (default 2000)
 * @property {number} [maxOps] operation budget of each measurement (default 20000)
 * @property {number[]} [sizes] collection sizes for the by-key measurements (default [1000, 20000])
 * @property {number} [docBytes] BSON size of each document (default 1500)
 * @property {(line: string) => void} [progress] called before each step (default: nothing)
 */

/**
 * @typedef {object} Ceiling
 * @property {string} id stable key, e.g. `insertOne.c50` or `findOne.byId.n20000`
 * @property {string} label what was measured, in words
 * @property {'docs/s' | 'ops/s'} unit what `rate` counts
 * @property {number} rate documents or operations per second
 * @property {number} ops operations completed (an insertMany of 100 is one operation)
 * @property {number} docs documents written or read
 * @property {number} concurrency operations in flight at once
 * @property {number} elapsedMs wall time of the measurement
 * @property {number} p50Ms median latency of one operation
 * @property {number} p99Ms 99th percentile latency of one operation
 * @property {number | null} collectionSize documents in the collection (by-key measurements)
 */

/**
 * @typedef {object} CeilingReport
 * @property {string} startedAt ISO time
 * @property {{ version: string | null, ferretdbVersion: string | null }} server from `buildInfo`
 * @property {number} docBytes BSON size of each document
 * @property {Ceiling[]} ceilings in the order measured
 * @property {Record<string, { byId: string, byIndexedField: string }>} plans query plans of the
 *   two lookups per collection size (`explain`), e.g. `Seq Scan` or `IDHACK`
 */

/**
 * Measures the store ceilings in `db` (which must be a throwaway database: collections in it are
 * created and dropped; the caller drops the database). Bounded: every measurement stops after
 * `durationMs` or `maxOps`, whichever comes first.
 *
 * @param {import('mongodb').Db} db
 * @param {CeilingOptions} [options]
 * @returns {Promise<CeilingReport>}
 */
export async function measureStoreCeilings(db, options = {}) {
  const durationMs = options.durationMs ?? 2000;
  const maxOps = options.maxOps ?? 20_000;
  const sizes = [...(options.sizes ?? [1000, 20_000])].sort((a, b) => a - b);
  const docBytes = options.docBytes ?? 1500;
  const progress = options.progress ?? (() => {});
  const budget = { durationMs, maxOps };
  const makeDoc = documentFactory(docBytes);
  const info = await db.admin().command({ buildInfo: 1 });
  /** @type {CeilingReport} */
  const report = {
    startedAt: new Date().toISOString(),
    server: { version: info.version ?? null, ferretdbVersion: info.ferretdbVersion ?? null },
    docBytes,
    ceilings: [],
    plans: {},
  };
  const add = (ceiling) => {
    report.ceilings.push(ceiling);
    progress(`  ${ceiling.label}: ${formatRate(ceiling)} (p50 ${ceiling.p50Ms} ms, p99 ${ceiling.p99Ms} ms)`);
  };

  // ---- writes into an empty collection, one measurement per fresh collection
  let seq = 0;
  const inserts = async (id, label, concurrency, batch) => {
    const coll = db.collection(`ceiling_${id.replaceAll('.', '_')}`);
    await coll.drop().catch(() => {});
    progress(`${label}...`);
    const op =
      batch === 1
        ? () => coll.insertOne(makeDoc(seq++))
        : () =>
            coll.insertMany(
              Array.from({ length: batch }, () => makeDoc(seq++)),
              { ordered: false },
            );
    add(
      await measure(
        { id, label, unit: 'docs/s', concurrency, docsPerOp: batch, collectionSize: null },
        op,
        budget,
      ),
    );
    await coll.drop();
  };
  await inserts('insertOne.c1', 'insertOne, c=1', 1, 1);
  await inserts('insertOne.c50', 'insertOne, c=50', 50, 1);
  await inserts('insertMany.b10', 'insertMany of 10, c=1', 1, 10);
  await inserts('insertMany.b100', 'insertMany of 100, c=1', 1, 100);
  await inserts('insertMany.b500', 'insertMany of 500, c=1', 1, 500);

  // ---- by-key operations on a collection grown to each size in turn
  const coll = db.collection('ceiling_sized');
  await coll.drop().catch(() => {});
  // The index the by-field lookup would use on MongoDB; whether the server uses it is in `plans`.
  await coll.createIndex({ externalKey: 1 });
  let count = 0;
  for (const size of sizes) {
    progress(`growing the collection to ${size} documents...`);
    while (count < size) {
      const n = Math.min(500, size - count);
      await coll.insertMany(
        Array.from({ length: n }, (_, i) => makeDoc(count + i)),
        { ordered: false },
      );
      count += n;
    }
    const pick = () => Math.floor(Math.random() * size);
    const key = { collectionSize: size };
    const update = () =>
      coll.updateOne(
        { _id: docId(pick()) },
        { $set: { status: 'delivered', updatedAt: new Date() }, $inc: { attempts: 1 } },
      );
    add(
      await measure(
        {
          id: `updateOne.byId.c1.n${size}`,
          label: `updateOne by _id, c=1, ${size} docs`,
          unit: 'ops/s',
          concurrency: 1,
          docsPerOp: 1,
          ...key,
        },
        update,
        budget,
      ),
    );
    add(
      await measure(
        {
          id: `updateOne.byId.c50.n${size}`,
          label: `updateOne by _id, c=50, ${size} docs`,
          unit: 'ops/s',
          concurrency: 50,
          docsPerOp: 1,
          ...key,
        },
        update,
        budget,
      ),
    );
    add(
      await measure(
        {
          id: `bulkWrite.b100.n${size}`,
          label: `bulkWrite of 100 updateOne by _id, ${size} docs`,
          unit: 'docs/s',
          concurrency: 1,
          docsPerOp: 100,
          ...key,
        },
        () =>
          coll.bulkWrite(
            Array.from({ length: 100 }, () => ({
              updateOne: {
                filter: { _id: docId(pick()) },
                update: { $set: { status: 'read' }, $inc: { attempts: 1 } },
              },
            })),
            { ordered: false },
          ),
        budget,
      ),
    );
    add(
      await measure(
        {
          id: `findOne.byId.n${size}`,
          label: `findOne by _id, ${size} docs`,
          unit: 'ops/s',
          concurrency: 1,
          docsPerOp: 1,
          ...key,
        },
        async () => {
          if (!(await coll.findOne({ _id: docId(pick()) }))) throw new Error('findOne by _id found nothing');
        },
        budget,
      ),
    );
    add(
      await measure(
        {
          id: `findOne.byIndexedField.n${size}`,
          label: `findOne by an indexed field, ${size} docs`,
          unit: 'ops/s',
          concurrency: 1,
          docsPerOp: 1,
          ...key,
        },
        async () => {
          if (!(await coll.findOne({ externalKey: externalKey(pick()) })))
            throw new Error('findOne by externalKey found nothing');
        },
        budget,
      ),
    );
    const sample = pick();
    report.plans[`n${size}`] = {
      byId: summarisePlan(await coll.find({ _id: docId(sample) }).explain()),
      byIndexedField: summarisePlan(await coll.find({ externalKey: externalKey(sample) }).explain()),
    };
  }
  await coll.drop();
  return report;
}

/**
 * The ceiling with this id from a report, for a service benchmark's ratio.
 *
 * @param {CeilingReport} report
 * @param {string} id
 * @returns {Ceiling}
 */
export function findCeiling(report, id) {
  const found = report.ceilings.find((c) => c.id === id);
  if (!found) {
    throw new Error(
      `no ceiling '${id}' in this report; measured: ${report.ceilings.map((c) => c.id).join(', ')}`,
    );
  }
  return found;
}

/**
 * The report as a fixed-width table (one line per ceiling, then the query plans).
 *
 * @param {CeilingReport} report
 * @returns {string}
 */
export function formatCeilingTable(report) {
  const rows = report.ceilings.map((c) => [c.label, formatRate(c), `${c.p50Ms}`, `${c.p99Ms}`, `${c.ops}`]);
  const head = ['operation', 'rate', 'p50 ms', 'p99 ms', 'ops'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r) =>
    r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ');
  const out = [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line), ''];
  for (const [size, plan] of Object.entries(report.plans)) {
    out.push(
      `plan at ${size.slice(1)} docs: by _id -> ${plan.byId}; by indexed field -> ${plan.byIndexedField}`,
    );
  }
  return out.join('\n');
}

function formatRate(c) {
  return `${c.rate >= 10 ? Math.round(c.rate).toLocaleString('en-US') : c.rate.toFixed(1)} ${c.unit}`;
}

// Natural string keys, like the `workspaceId:wamid` keys the services use.
const docId = (n) => `ws_bench:wamid.${String(n).padStart(8, '0')}`;
const externalKey = (n) => `ext-${String(n).padStart(8, '0')}`;

/** Documents of about `bytes` BSON bytes, shaped like a message record. */
function documentFactory(bytes) {
  const filler = randomBytes(bytes).toString('base64');
  const base = (n) => ({
    _id: docId(n),
    workspaceId: 'ws_bench',
    externalKey: externalKey(n),
    status: 'sent',
    attempts: 0,
    createdAt: new Date(),
    to: '15550001234',
    body: '',
  });
  const overhead = BSON.calculateObjectSize(base(0));
  const pad = Math.max(0, bytes - overhead - 8);
  return (n) => ({ ...base(n), body: filler.slice(0, pad) });
}

/**
 * Runs `op` with `concurrency` callers until the time or operation budget is spent.
 */
async function measure(meta, op, { durationMs, maxOps }) {
  const latencies = [];
  let started = 0;
  const t0 = performance.now();
  const deadline = t0 + durationMs;
  const worker = async () => {
    while (started < maxOps && performance.now() < deadline) {
      started++;
      const s = performance.now();
      await op();
      latencies.push(performance.now() - s);
    }
  };
  await Promise.all(Array.from({ length: meta.concurrency }, worker));
  const elapsedMs = performance.now() - t0;
  latencies.sort((a, b) => a - b);
  const q = (p) => round(latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0);
  const ops = latencies.length;
  const docs = ops * meta.docsPerOp;
  return {
    id: meta.id,
    label: meta.label,
    unit: meta.unit,
    rate: round(((meta.unit === 'docs/s' ? docs : ops) * 1000) / elapsedMs),
    ops,
    docs,
    concurrency: meta.concurrency,
    elapsedMs: Math.round(elapsedMs),
    p50Ms: q(0.5),
    p99Ms: q(0.99),
    collectionSize: meta.collectionSize,
  };
}

const round = (x) => Math.round(x * 10) / 10;

/** One line from an `explain` answer: PostgreSQL's node type (FerretDB) or MongoDB's stages. */
function summarisePlan(explained) {
  const qp = explained?.queryPlanner ?? {};
  if (qp.Plan) {
    const nodes = [];
    for (let node = qp.Plan; node; node = node.Plans?.[0]) {
      nodes.push(node['Index Name'] ? `${node['Node Type']} using ${node['Index Name']}` : node['Node Type']);
    }
    return `${nodes.join(' <- ')} (PostgreSQL)`;
  }
  const stages = [];
  for (let s = qp.winningPlan; s; s = s.inputStage)
    stages.push(s.indexName ? `${s.stage}(${s.indexName})` : s.stage);
  return stages.length ? stages.join(' <- ') : JSON.stringify(qp).slice(0, 200);
}

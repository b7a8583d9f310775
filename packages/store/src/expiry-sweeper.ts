import type { Db } from 'mongodb';
import type { StoreLog } from './log';

export interface ExpirySweeperOptions {
  db: Db;
  /** Collections whose documents carry `expiresAt` (a BSON date; other types never match). */
  collections: readonly string[];
  /** Time between the starts of two timer runs; a run still going when it fires is not doubled. */
  intervalMs: number;
  /** The clock (inject one in tests); default `() => new Date()`. */
  now?: () => Date;
  log?: StoreLog;
  /** Documents deleted per round trip, so one run never holds a huge `$in` (default 500). */
  batchSize?: number;
}

export interface ExpirySweeper {
  /**
   * Deletes every document with `expiresAt <= now()` in each collection, in batches, and
   * returns how many. Runs one at a time: a call while a run is going starts after it.
   * Rejects once `stop()` was called.
   */
  sweepOnce(): Promise<number>;
  /** Stops the timer and waits for the runs already started or queued to finish. */
  stop(): Promise<void>;
}

/**
 * Deletes expired documents every `intervalMs`, standing in for a TTL index (FerretDB 1.x has
 * none, and TTL deletion on MongoDB is not bounded in time either). Each batch re-checks
 * `expiresAt` in the delete, so a document whose expiry was pushed back after it was read is
 * kept. A failed timer run is logged and retried at the next interval. The timer is unref'd:
 * it never keeps a process alive; call `stop()` in graceful shutdown.
 */
export function startExpirySweeper(options: ExpirySweeperOptions): ExpirySweeper {
  const { db, collections, intervalMs, log } = options;
  const now = options.now ?? (() => new Date());
  const batchSize = options.batchSize ?? 500;
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new RangeError(`expiry sweeper batchSize must be a positive integer, got ${batchSize}`);
  if (!Number.isFinite(intervalMs) || intervalMs < 1)
    throw new RangeError(`expiry sweeper intervalMs must be at least 1, got ${intervalMs}`);

  let stopped = false;
  let inFlight: Promise<number> | undefined;

  async function sweepCollection(name: string, cutoff: Date): Promise<number> {
    const collection = db.collection(name);
    let deleted = 0;
    for (;;) {
      const batch = await collection
        .find({ expiresAt: { $lte: cutoff } }, { projection: { _id: 1 }, limit: batchSize })
        .toArray();
      if (batch.length === 0) break;
      const result = await collection.deleteMany({
        _id: { $in: batch.map((document) => document._id) },
        expiresAt: { $lte: cutoff },
      });
      deleted += result.deletedCount;
      // A short batch was the last one; a batch that deleted nothing would repeat forever.
      if (batch.length < batchSize || result.deletedCount === 0) break;
    }
    if (deleted > 0) log?.info({ collection: name, deleted }, 'expired documents deleted');
    return deleted;
  }

  async function run(): Promise<number> {
    // One cut-off for the whole run, so the run ends even while documents keep expiring.
    const cutoff = now();
    let total = 0;
    for (const name of collections) total += await sweepCollection(name, cutoff);
    return total;
  }

  function sweepOnce(): Promise<number> {
    if (stopped)
      return Promise.reject(
        new Error('expiry sweeper is stopped; start a new one with startExpirySweeper()'),
      );
    // Chain after the run in flight (its failure is its caller's), never beside it.
    const next = (inFlight ?? Promise.resolve(0)).then(run, run);
    inFlight = next;
    const clear = () => {
      if (inFlight === next) inFlight = undefined;
    };
    next.then(clear, clear);
    return next;
  }

  const timer = setInterval(() => {
    if (inFlight || stopped) return;
    sweepOnce().catch((error: unknown) =>
      log?.error({ err: error }, 'expiry sweep failed; it is retried at the next interval'),
    );
  }, intervalMs);
  timer.unref();

  return {
    sweepOnce,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await inFlight?.catch(() => undefined);
    },
  };
}

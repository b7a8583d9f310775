import { useTestContext } from '@wapi/testkit';
import { describe, expect, it } from 'vitest';
import { type StoreLog, startExpirySweeper } from '../src/index';

const ctx = useTestContext('storeexpiry');

const t0 = new Date('2030-01-01T00:00:00Z');
const at = (seconds: number) => new Date(t0.getTime() + seconds * 1000);
const hour = 3_600_000;

/** Inserts `count` documents expiring `seconds` after t0, with ids `${prefix}0`, `${prefix}1`, … */
async function seed(collection: string, count: number, seconds: number, prefix = 'd') {
  const documents = Array.from({ length: count }, (_, i) => ({
    _id: `${prefix}${i}`,
    expiresAt: at(seconds),
  }));
  await ctx.db.collection<{ _id: string; expiresAt?: Date }>(collection).insertMany(documents);
}

const remaining = (collection: string) => ctx.db.collection(collection).countDocuments({});

/** A log that records what it is told and resolves `next()` at the next info line. */
function recordingLog() {
  const lines: { level: string; fields: object; message: string }[] = [];
  let wake: (() => void) | undefined;
  const log: StoreLog = {
    info(fields, message) {
      lines.push({ level: 'info', fields, message });
      wake?.();
    },
    error(fields, message) {
      lines.push({ level: 'error', fields, message });
    },
  };
  const next = () =>
    new Promise<void>((resolve) => {
      wake = resolve;
    });
  return { log, lines, next };
}

describe('expiry sweeper', () => {
  it('deletes documents whose expiresAt <= now in every collection, in batches, and keeps the rest', async () => {
    await seed('sessions', 7, 0, 'expired');
    await seed('sessions', 2, 60, 'later');
    await ctx.db.collection<{ _id: string }>('sessions').insertOne({ _id: 'no-expiry' });
    await seed('otps', 3, -5);
    let now = at(0);
    const { log, lines } = recordingLog();
    const sweeper = startExpirySweeper({
      db: ctx.db,
      collections: ['sessions', 'otps'],
      intervalMs: hour,
      now: () => now,
      log,
      batchSize: 3,
    });
    try {
      expect(await sweeper.sweepOnce()).toBe(10);
      expect(await remaining('sessions')).toBe(3);
      expect(await remaining('otps')).toBe(0);
      expect(lines).toEqual([
        {
          level: 'info',
          fields: { collection: 'sessions', deleted: 7 },
          message: 'expired documents deleted',
        },
        { level: 'info', fields: { collection: 'otps', deleted: 3 }, message: 'expired documents deleted' },
      ]);
      expect(await sweeper.sweepOnce()).toBe(0);
      now = at(60);
      expect(await sweeper.sweepOnce()).toBe(2);
      expect(await ctx.db.collection('sessions').find({}).toArray()).toEqual([{ _id: 'no-expiry' }]);
    } finally {
      await sweeper.stop();
    }
  });

  it('runs one sweep at a time: a second call starts after the first has finished', async () => {
    await seed('serial', 10, 0);
    const sweeper = startExpirySweeper({
      db: ctx.db,
      collections: ['serial'],
      intervalMs: hour,
      now: () => at(0),
      batchSize: 2,
    });
    // Overlapping runs would read the same batches and split the deletions between them.
    expect(await Promise.all([sweeper.sweepOnce(), sweeper.sweepOnce()])).toEqual([10, 0]);
    await sweeper.stop();
  });

  it('stop() waits for the run in flight, then refuses new runs', async () => {
    await seed('stopping', 20, 0);
    const sweeper = startExpirySweeper({
      db: ctx.db,
      collections: ['stopping'],
      intervalMs: hour,
      now: () => at(0),
      batchSize: 4,
    });
    const run = sweeper.sweepOnce();
    await sweeper.stop();
    expect(await remaining('stopping')).toBe(0);
    expect(await run).toBe(20);
    await expect(sweeper.sweepOnce()).rejects.toThrow('expiry sweeper is stopped');
  });

  it('sweeps on its timer', async () => {
    await seed('timed', 5, 0);
    const { log, lines, next } = recordingLog();
    const deleted = next();
    const sweeper = startExpirySweeper({
      db: ctx.db,
      collections: ['timed'],
      intervalMs: 5,
      now: () => at(0),
      log,
    });
    await deleted;
    await sweeper.stop();
    expect(lines[0]).toEqual({
      level: 'info',
      fields: { collection: 'timed', deleted: 5 },
      message: 'expired documents deleted',
    });
    expect(await remaining('timed')).toBe(0);
  });

  it('refuses a batch size or interval that would never finish or spin', () => {
    const base = { db: ctx.db, collections: ['x'], intervalMs: 1000 };
    expect(() => startExpirySweeper({ ...base, batchSize: 0 })).toThrow(RangeError);
    expect(() => startExpirySweeper({ ...base, intervalMs: 0 })).toThrow(RangeError);
  });
});

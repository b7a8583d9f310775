import { useTestContext } from '@wapi/testkit';
import { MongoBulkWriteError, MongoServerError } from 'mongodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { isDuplicateKeyError, migrate } from '../src/index';

const ctx = useTestContext('storedup');

describe('isDuplicateKeyError', () => {
  beforeAll(async () => {
    await migrate(ctx.db, [
      {
        collection: 'keys',
        name: 'key_unique',
        key: { key: 1 },
        options: { unique: true },
        serves: 'the duplicate-key tests',
      },
    ]);
    await ctx.db.collection('keys').insertOne({ key: 'a', n: 'text' });
  });

  it('recognises a duplicate from insertOne (code 11000)', async () => {
    const error = await ctx.db
      .collection('keys')
      .insertOne({ key: 'a' })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MongoServerError);
    expect(isDuplicateKeyError(error)).toBe(true);
  });

  it('recognises a bulk error whose write errors are all duplicates (ordered and unordered)', async () => {
    for (const ordered of [true, false]) {
      const error = await ctx.db
        .collection('keys')
        .insertMany([{ key: 'a' }, { key: `new-${ordered}` }, { key: 'a' }], { ordered })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(MongoBulkWriteError);
      expect(isDuplicateKeyError(error)).toBe(true);
    }
  });

  it('does not call other server errors duplicates', async () => {
    const error = await ctx.db
      .collection('keys')
      .updateOne({ key: 'a' }, { $inc: { n: 1 } })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MongoServerError);
    expect(isDuplicateKeyError(error)).toBe(false);
  });

  it('does not call a bulk error with a non-duplicate write error a duplicate', () => {
    const mixed = { code: 11000, writeErrors: [{ code: 11000 }, { code: 121 }] };
    expect(isDuplicateKeyError(mixed)).toBe(false);
    expect(isDuplicateKeyError({ code: 11000, writeErrors: { code: 11000 } })).toBe(true);
    for (const notAnError of [undefined, null, 'E11000', 11000, new Error('E11000 duplicate key')])
      expect(isDuplicateKeyError(notAnError)).toBe(false);
  });
});

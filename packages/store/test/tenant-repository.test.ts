import { useTestContext } from '@wapi/testkit';
import { describe, expect, it } from 'vitest';
import {
  asWorkspaceId,
  isDuplicateKeyError,
  migrate,
  type TenantDocument,
  type TenantRepository,
  tenantRepository,
} from '../src/index';

const ctx = useTestContext('storetenant');

interface Message extends TenantDocument {
  wamid: string;
  status: string;
  attempts: number;
  tags: string[];
}

const acme = asWorkspaceId('ws_acme');
const globex = asWorkspaceId('ws_globex');

const message = (wamid: string, status = 'queued'): Omit<Message, 'workspaceId'> => ({
  wamid,
  status,
  attempts: 0,
  tags: [],
});

/** A collection with the same three messages in each of the two workspaces. */
async function seeded(name: string): Promise<TenantRepository<Message>> {
  const messages = tenantRepository<Message>(ctx.db, name);
  for (const ws of [acme, globex])
    await messages.insertMany(ws, [message('m1'), message('m2'), message('m3', 'sent')]);
  return messages;
}

/** Every document of the collection as `workspace/wamid/status/attempts`, sorted, read past the repository. */
async function rawState(name: string): Promise<string[]> {
  const all = await ctx.db.collection(name).find({}).toArray();
  return all.map((d) => `${d.workspaceId}/${d.wamid}/${d.status}/${d.attempts}`).sort();
}

const untouchedGlobex = ['ws_globex/m1/queued/0', 'ws_globex/m2/queued/0', 'ws_globex/m3/sent/0'];

describe('tenant repository: reads and writes stay in the workspace', () => {
  it('findOneAndUpdate returns the document before or after, and never another workspace’s', async () => {
    const messages = await seeded('fou');
    const before = await messages.findOneAndUpdate(acme, { wamid: 'm1' }, { $set: { status: 'sent' } });
    expect(before).toMatchObject({ workspaceId: 'ws_acme', wamid: 'm1', status: 'queued' });
    const after = await messages.findOneAndUpdate(
      acme,
      { wamid: 'm1' },
      { $inc: { attempts: 1 } },
      { returnDocument: 'after' },
    );
    expect(after).toMatchObject({ workspaceId: 'ws_acme', wamid: 'm1', status: 'sent', attempts: 1 });
    expect(await rawState('fou')).toEqual([
      'ws_acme/m1/sent/1',
      'ws_acme/m2/queued/0',
      'ws_acme/m3/sent/0',
      ...untouchedGlobex,
    ]);
  });

  it('findOneAndUpdate with upsert inserts into the given workspace', async () => {
    const messages = await seeded('fou_upsert');
    const created = await messages.findOneAndUpdate(
      acme,
      { wamid: 'm9' },
      { $setOnInsert: { status: 'queued', attempts: 0, tags: [] } },
      { upsert: true, returnDocument: 'after' },
    );
    expect(created).toMatchObject({ workspaceId: 'ws_acme', wamid: 'm9' });
    expect(await messages.countDocuments(globex, { wamid: 'm9' })).toBe(0);
    expect(await messages.countDocuments(acme, { wamid: 'm9' })).toBe(1);
  });

  it('updateMany changes only the workspace’s matching documents', async () => {
    const messages = await seeded('update_many');
    const result = await messages.updateMany(acme, { status: 'queued' }, { $set: { status: 'failed' } });
    expect(result).toEqual({ matched: 2, modified: 2, upserted: false });
    expect(await rawState('update_many')).toEqual([
      'ws_acme/m1/failed/0',
      'ws_acme/m2/failed/0',
      'ws_acme/m3/sent/0',
      ...untouchedGlobex,
    ]);
  });

  it('updateMany and findOneAndUpdate refuse an update that reaches workspaceId (cast past the type)', async () => {
    const messages = await seeded('update_many_guard');
    type Update = Parameters<typeof messages.updateMany>[2];
    await expect(
      messages.updateMany(acme, {}, { $rename: { status: 'workspaceId' } } as unknown as Update),
    ).rejects.toThrow('$rename may not change workspaceId');
    await expect(
      messages.findOneAndUpdate(acme, {}, { $set: { workspaceId: 'ws_globex' } } as unknown as Update),
    ).rejects.toThrow('$set may not change workspaceId');
    await expect(messages.updateMany(acme, {}, { status: 'x' } as unknown as Update)).rejects.toThrow(
      /not a replacement document/,
    );
    expect(await messages.countDocuments(acme)).toBe(3);
    expect(await messages.countDocuments(globex)).toBe(3);
  });

  it('deleteOne and deleteMany delete only in the workspace', async () => {
    const messages = await seeded('delete');
    expect(await messages.deleteOne(acme, { wamid: 'm3' })).toBe(1);
    expect(await messages.deleteMany(acme, {})).toBe(2);
    expect(await messages.deleteMany(acme, {})).toBe(0);
    expect(await rawState('delete')).toEqual(untouchedGlobex);
  });

  it('countDocuments counts only the workspace, with or without a filter', async () => {
    const messages = await seeded('count');
    await messages.insertOne(globex, message('m4'));
    expect(await messages.countDocuments(acme)).toBe(3);
    expect(await messages.countDocuments(globex)).toBe(4);
    expect(await messages.countDocuments(acme, { status: 'queued' })).toBe(2);
    expect(await messages.countDocuments(acme, { $or: [{ wamid: 'm1' }, { wamid: 'm4' }] })).toBe(1);
  });
});

describe('tenant repository: aggregate', () => {
  it('aggregates only the workspace’s documents, even when the pipeline matches another workspace', async () => {
    const messages = await seeded('aggregate');
    await messages.insertOne(globex, message('m4', 'sent'));
    const byStatus = await messages.aggregate<{ _id: string; n: number }>(acme, [
      { $group: { _id: '$status', n: { $sum: 1 } } },
      { $sort: { _id: 1 } },
    ]);
    expect(byStatus).toEqual([
      { _id: 'queued', n: 2 },
      { _id: 'sent', n: 1 },
    ]);
    expect(await messages.aggregate(acme, [{ $match: { workspaceId: 'ws_globex' } }])).toEqual([]);
  });

  it('refuses stages that reach other collections, before sending anything', async () => {
    const messages = await seeded('aggregate_guard');
    const attempts = [
      [{ $out: 'stolen' }],
      [{ $merge: { into: 'stolen' } }],
      [{ $lookup: { from: 'aggregate_guard', localField: 'wamid', foreignField: 'wamid', as: 'all' } }],
      [{ $unionWith: { coll: 'aggregate_guard' } }],
      [{ $graphLookup: { from: 'x', startWith: '$a', connectFromField: 'a', connectToField: 'b', as: 'c' } }],
      [{ $facet: { inner: [{ $unionWith: 'aggregate_guard' }] } }],
    ];
    for (const pipeline of attempts) {
      const error = await messages.aggregate(acme, pipeline).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RangeError);
      expect((error as Error).message).toMatch(/refuses \$\w+: it reads or writes another collection/);
    }
    expect(await ctx.db.listCollections({ name: 'stolen' }).toArray()).toEqual([]);
    // A harmless pipeline still runs, scoped. ($facet itself is checked inside, but FerretDB
    // 1.24 does not implement it, so it is not run here.)
    expect(await messages.aggregate(acme, [{ $count: 'n' }])).toEqual([{ n: 3 }]);
  });
});

describe('tenant repository: bulkWrite', () => {
  it('scopes every operation to the workspace', async () => {
    const messages = await seeded('bulk');
    type Op = Parameters<typeof messages.bulkWrite>[1][number];
    // Each filter or document also tries to name globex through a cast: the scope overrides it.
    const smuggle = <O>(o: O) => ({ ...o, workspaceId: 'ws_globex' }) as unknown as O;
    const result = await messages.bulkWrite(acme, [
      { insertOne: { document: smuggle(message('m5')) } },
      { updateOne: { filter: smuggle({ wamid: 'm1' }), update: { $inc: { attempts: 1 } } } },
      { updateMany: { filter: smuggle({ status: 'queued' }), update: { $push: { tags: 'bulk' } } } },
      { replaceOne: { filter: smuggle({ wamid: 'm3' }), replacement: smuggle(message('m3', 'read')) } },
      { deleteOne: { filter: smuggle({ wamid: 'm2' }) } },
      { updateOne: { filter: { wamid: 'm6' }, update: { $setOnInsert: message('m6') }, upsert: true } },
      { deleteMany: { filter: smuggle({ status: 'nothing-has-this' }) } },
    ] satisfies Op[]);
    expect(result).toEqual({ inserted: 1, matched: 5, modified: 5, deleted: 1, upserted: 1 });
    expect(await rawState('bulk')).toEqual([
      'ws_acme/m1/queued/1',
      'ws_acme/m3/read/0',
      'ws_acme/m5/queued/0',
      'ws_acme/m6/queued/0',
      ...untouchedGlobex,
    ]);
    expect(await messages.countDocuments(globex, { tags: 'bulk' })).toBe(0);
    expect(await messages.deleteMany(acme, {})).toBe(4);
    expect(await rawState('bulk')).toEqual(untouchedGlobex);
  });

  it('refuses the whole batch when one operation could leave the workspace', async () => {
    const messages = await seeded('bulk_guard');
    type Ops = Parameters<typeof messages.bulkWrite>[1];
    const bad: unknown[][] = [
      [{ updateOne: { filter: {}, update: { $set: { workspaceId: 'ws_globex' } } } }],
      [{ updateMany: { filter: {}, update: { $rename: { status: 'workspaceId' } } } }],
      [{ updateOne: { filter: {}, update: [{ $set: { workspaceId: 'ws_globex' } }] } }],
      [{ replaceOne: { filter: {}, replacement: { $set: { workspaceId: 'ws_globex' } } } }],
      [{ insertOne: { document: message('m7') }, deleteMany: { filter: {} } }],
      [{ dropCollection: {} }],
    ];
    for (const operations of bad) {
      const all = [{ insertOne: { document: message('m8') } }, ...operations] as unknown as Ops;
      await expect(messages.bulkWrite(acme, all)).rejects.toThrow(RangeError);
    }
    expect(await rawState('bulk_guard')).toEqual([
      'ws_acme/m1/queued/0',
      'ws_acme/m2/queued/0',
      'ws_acme/m3/sent/0',
      ...untouchedGlobex,
    ]);
  });
});

describe('tenant repository: idempotent inserts', () => {
  it('insertOnce inserts once and reports a duplicate as a no-op; another workspace has its own key', async () => {
    await migrate(ctx.db, [
      {
        collection: 'once',
        name: 'workspace_wamid_unique',
        key: { workspaceId: 1, wamid: 1 },
        options: { unique: true },
        serves: 'insertOnce(message) dedupe',
      },
    ]);
    const messages = tenantRepository<Message>(ctx.db, 'once');
    expect(await messages.insertOnce(acme, message('m1'))).toBe(true);
    expect(await messages.insertOnce(acme, message('m1', 'other'))).toBe(false);
    expect(await messages.insertOnce(globex, message('m1'))).toBe(true);
    expect(await rawState('once')).toEqual(['ws_acme/m1/queued/0', 'ws_globex/m1/queued/0']);

    const batch = [message('m1'), message('m2'), message('m3'), message('m2')];
    const error = await messages.insertMany(acme, batch).catch((e: unknown) => e);
    expect(isDuplicateKeyError(error)).toBe(true);
    await messages.deleteMany(acme, { wamid: { $ne: 'm1' } });
    expect(await messages.insertMany(acme, batch, { ignoreDuplicates: true })).toEqual({
      inserted: 2,
      duplicates: 2,
    });
    expect(await messages.countDocuments(acme)).toBe(3);
    expect(await messages.insertMany(acme, [])).toEqual({ inserted: 0, duplicates: 0 });
  });
});

import { useTestContext } from '@wapi/testkit';
import { describe, expect, it } from 'vitest';
import { globalRepository } from '../src/index';

const ctx = useTestContext('storeglobal');

/** A directory keyed by a natural `_id`: phone number id → workspace. */
interface PhoneNumberRoute {
  _id: string;
  workspaceId: string;
  hits: number;
  disabled?: boolean;
}

describe('global repository', () => {
  it('reads and writes by natural _id, and treats a duplicate insert as a no-op', async () => {
    const routes = globalRepository<PhoneNumberRoute>(ctx.db, 'routes');
    expect(await routes.insertOnce({ _id: 'pn_1', workspaceId: 'ws_acme', hits: 0 })).toBe(true);
    expect(await routes.insertOnce({ _id: 'pn_1', workspaceId: 'ws_globex', hits: 0 })).toBe(false);
    expect(await routes.findOne({ _id: 'pn_1' })).toEqual({ _id: 'pn_1', workspaceId: 'ws_acme', hits: 0 });

    expect(
      await routes.insertMany(
        [
          { _id: 'pn_1', workspaceId: 'ws_x', hits: 0 },
          { _id: 'pn_2', workspaceId: 'ws_globex', hits: 0 },
        ],
        { ignoreDuplicates: true },
      ),
    ).toEqual({ inserted: 1, duplicates: 1 });

    const after = await routes.findOneAndUpdate(
      { _id: 'pn_1' },
      { $inc: { hits: 2 } },
      { returnDocument: 'after' },
    );
    expect(after?.hits).toBe(2);
    expect(await routes.updateMany({}, { $set: { disabled: true } })).toEqual({
      matched: 2,
      modified: 2,
      upserted: false,
    });
    expect(await routes.countDocuments({ disabled: true })).toBe(2);
    const byWorkspace = await routes.aggregate<{ _id: string; n: number }>([
      { $group: { _id: '$workspaceId', n: { $sum: 1 } } },
      { $sort: { _id: 1 } },
    ]);
    expect(byWorkspace).toEqual([
      { _id: 'ws_acme', n: 1 },
      { _id: 'ws_globex', n: 1 },
    ]);
    expect(
      await routes.bulkWrite([
        { insertOne: { document: { _id: 'pn_3', workspaceId: 'ws_acme', hits: 0 } } },
        { deleteOne: { filter: { _id: 'pn_2' } } },
      ]),
    ).toEqual({ inserted: 1, matched: 0, modified: 0, deleted: 1, upserted: 0 });
    expect(await routes.deleteMany({ workspaceId: 'ws_acme' })).toBe(2);
    expect(await routes.find({})).toEqual([]);
  });

  it('refuses replacements, pipelines and cross-collection stages', async () => {
    const routes = globalRepository<PhoneNumberRoute>(ctx.db, 'routes_guard');
    await routes.insertOne({ _id: 'pn_1', workspaceId: 'ws_acme', hits: 0 });
    type Update = Parameters<typeof routes.updateOne>[1];
    await expect(routes.updateOne({ _id: 'pn_1' }, { hits: 5 } as unknown as Update)).rejects.toThrow(
      /not a replacement document .*wrap the fields in \$set/,
    );
    await expect(
      routes.updateOne({ _id: 'pn_1' }, [{ $set: { hits: 5 } }] as unknown as Update),
    ).rejects.toThrow(RangeError);
    await expect(
      routes.aggregate([{ $lookup: { from: 'contacts', localField: 'x', foreignField: 'y', as: 'z' } }]),
    ).rejects.toThrow('refuses $lookup');
    await expect(routes.aggregate([{ $merge: { into: 'routes_copy' } }])).rejects.toThrow('refuses $merge');
    expect(await routes.findOne({ _id: 'pn_1' })).toMatchObject({ hits: 0 });
  });
});

import { useTestContext } from '@wapi/testkit';
import { describe, expect, it } from 'vitest';
import {
  asWorkspaceId,
  type IndexSpec,
  migrate,
  mongoCheck,
  type TenantDocument,
  tenantRepository,
} from '../src/index';

const ctx = useTestContext('store');

interface Contact extends TenantDocument {
  waId: string;
  name: string;
}

const acme = asWorkspaceId('ws_acme');
const globex = asWorkspaceId('ws_globex');

describe('tenant repository', () => {
  it('scopes every read and write to the workspace it is given', async () => {
    const contacts = tenantRepository<Contact>(ctx.db, 'contacts');
    await contacts.insertOne(acme, { waId: '911', name: 'Asha' });
    await contacts.insertOne(globex, { waId: '911', name: 'Ben' });

    expect((await contacts.findOne(acme, { waId: '911' }))?.name).toBe('Asha');
    expect((await contacts.find(globex, {})).map((c) => c.name)).toEqual(['Ben']);
    expect(await contacts.countDocuments(acme)).toBe(1);

    const update = await contacts.updateOne(globex, { waId: '911' }, { $set: { name: 'Benedict' } });
    expect(update).toEqual({ matched: 1, modified: 1, upserted: false });
    expect((await contacts.findOne(acme, { waId: '911' }))?.name).toBe('Asha');

    expect(await contacts.deleteOne(acme, { waId: '911' })).toBe(1);
    expect(await contacts.countDocuments(globex)).toBe(1);
  });

  it('overrides a workspaceId smuggled into the filter through a cast', async () => {
    const contacts = tenantRepository<Contact>(ctx.db, 'contacts_smuggle');
    await contacts.insertOne(globex, { waId: '912', name: 'Other tenant' });
    const smuggled = { waId: '912', workspaceId: 'ws_globex' } as unknown as Parameters<
      typeof contacts.find
    >[1];
    expect(await contacts.find(acme, smuggled)).toEqual([]);
  });

  it('rejects a malformed workspace id', () => {
    expect(() => asWorkspaceId('bad id with spaces')).toThrow(RangeError);
  });

  it('refuses an update that would move a document to another workspace (cast past the type)', async () => {
    const contacts = tenantRepository<Contact>(ctx.db, 'contacts_move');
    await contacts.insertOne(acme, { waId: '913', name: 'Asha' });
    type Update = Parameters<typeof contacts.updateOne>[2];
    const attempts: [string, unknown][] = [
      ['$set', { $set: { workspaceId: 'ws_globex' } }],
      ['$set', { $set: { 'workspaceId.x': 1 } }],
      ['$unset', { $unset: { workspaceId: '' } }],
      ['$rename', { $rename: { workspaceId: 'formerWorkspace' } }],
      ['$rename', { $rename: { name: 'workspaceId' } }],
      ['$setOnInsert', { $setOnInsert: { workspaceId: 'ws_globex' } }],
      ['$inc', { $inc: { workspaceId: 1 } }],
    ];
    for (const [operator, update] of attempts) {
      const error = await contacts
        .updateOne(acme, { waId: '913' }, update as Update)
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RangeError);
      expect((error as RangeError).message).toContain(`${operator} may not change workspaceId`);
    }
    // A replacement document or a pipeline could rewrite workspaceId wholesale.
    for (const update of [{ name: 'replaced' }, [{ $set: { workspaceId: 'ws_globex' } }]]) {
      await expect(contacts.updateOne(acme, { waId: '913' }, update as unknown as Update)).rejects.toThrow(
        RangeError,
      );
    }
    expect((await contacts.findOne(acme, { waId: '913' }))?.name).toBe('Asha');
    expect(await contacts.countDocuments(globex)).toBe(0);
    const raw = await ctx.db.collection('contacts_move').find({}).toArray();
    expect(raw.map((d) => d.workspaceId)).toEqual(['ws_acme']);
  });

  it('upserts into the workspace it is given (the filter equality is copied to the new document)', async () => {
    const contacts = tenantRepository<Contact>(ctx.db, 'contacts_upsert');
    const result = await contacts.updateOne(
      acme,
      { waId: '914' },
      { $set: { name: 'New' }, $setOnInsert: { waId: '914' } },
      { upsert: true },
    );
    expect(result).toEqual({ matched: 0, modified: 0, upserted: true });
    const raw = await ctx.db.collection('contacts_upsert').find({}).toArray();
    expect(raw.map((d) => ({ workspaceId: d.workspaceId, waId: d.waId, name: d.name }))).toEqual([
      { workspaceId: 'ws_acme', waId: '914', name: 'New' },
    ]);
    expect((await contacts.findOne(acme, { waId: '914' }))?.name).toBe('New');
    expect(await contacts.findOne(globex, { waId: '914' })).toBeNull();
    expect(await contacts.countDocuments(globex)).toBe(0);
  });
});

// The compile-time checks of the repository types are in types.test-d.ts.

describe('migrate', () => {
  const specs: IndexSpec[] = [
    {
      collection: 'contacts',
      name: 'workspace_waId_unique',
      key: { workspaceId: 1, waId: 1 },
      options: { unique: true },
      serves: 'findOne(contact by wa id); one contact per number per workspace',
    },
    {
      collection: 'messages',
      name: 'workspace_createdAt',
      key: { workspaceId: 1, createdAt: -1 },
      serves: 'list messages',
    },
  ];

  it('creates indexes once and is a no-op the second time', async () => {
    const first = await migrate(ctx.db, specs);
    expect(first.created.sort()).toEqual(['contacts.workspace_waId_unique', 'messages.workspace_createdAt']);
    const second = await migrate(ctx.db, specs);
    expect(second).toEqual({
      created: [],
      existing: ['contacts.workspace_waId_unique', 'messages.workspace_createdAt'],
    });
    const names = (await ctx.db.collection('contacts').listIndexes().toArray()).map((i) => i.name);
    expect(names).toContain('workspace_waId_unique');
  });

  it('refuses an index whose key or options drifted from its spec, naming it and the fix', async () => {
    const original: IndexSpec = {
      collection: 'drift',
      name: 'workspace_email',
      key: { workspaceId: 1, email: 1 },
      serves: 'find contact by email',
    };
    expect(await migrate(ctx.db, [original])).toEqual({ created: ['drift.workspace_email'], existing: [] });
    const drifted: IndexSpec[] = [
      { ...original, options: { unique: true } },
      { ...original, key: { email: 1, workspaceId: 1 } },
      { ...original, key: { workspaceId: 1, email: -1 } },
    ];
    for (const spec of drifted) {
      await expect(migrate(ctx.db, [spec])).rejects.toThrow(
        /index drift\.workspace_email exists with a different definition \((key|unique): .*drop it .* or give the spec a new name/,
      );
    }
    await expect(migrate(ctx.db, [drifted[0]!])).rejects.toThrow('unique: index has false, spec has true');
    // The check runs before any index is created, so a drifted deploy changes nothing.
    const other: IndexSpec = { ...original, collection: 'drift_other', name: 'email' };
    await expect(migrate(ctx.db, [other, drifted[0]!])).rejects.toThrow('drift.workspace_email');
    expect(await ctx.db.listCollections({ name: 'drift_other' }).toArray()).toEqual([]);
    // Nothing was changed: the original spec is still up to date.
    expect(await migrate(ctx.db, [original])).toEqual({ created: [], existing: ['drift.workspace_email'] });
  });

  it('logs what it created and found, for the start-up log', async () => {
    const lines: { fields: object; message: string }[] = [];
    const log = { info: (fields: object, message: string) => lines.push({ fields, message }), error() {} };
    const spec: IndexSpec = { collection: 'logged', name: 'a', key: { a: 1 }, serves: 'find by a' };
    await migrate(ctx.db, [spec], log);
    await migrate(ctx.db, [spec], log);
    expect(lines).toEqual([
      { fields: { created: ['logged.a'], existing: [] }, message: 'indexes migrated' },
      { fields: { created: [], existing: ['logged.a'] }, message: 'indexes migrated' },
    ]);
  });

  it('refuses specs FerretDB cannot honour, and duplicate names, before creating anything', async () => {
    const good: IndexSpec = { collection: 'portable', name: 'a', key: { a: 1 }, serves: 'find by a' };
    const unportable: [IndexSpec, string][] = [
      [
        { ...good, name: 'ttl', options: { expireAfterSeconds: 60 } },
        'option expireAfterSeconds (FerretDB 1.x has no TTL',
      ],
      [
        { ...good, name: 'partial', options: { partialFilterExpression: { a: 1 } } },
        'option partialFilterExpression',
      ],
      [{ ...good, name: 'sparse', options: { sparse: true } }, 'option sparse'],
      [{ ...good, name: 'text', key: { a: 'text' } }, 'a text index on a'],
      [{ ...good, name: 'hashed', key: { a: 'hashed' } }, 'a hashed index on a'],
    ];
    for (const [spec, problem] of unportable)
      await expect(migrate(ctx.db, [good, spec])).rejects.toThrow(
        `index spec portable.${spec.name} uses ${problem}`,
      );
    await expect(migrate(ctx.db, [good, { ...good, key: { b: 1 } }])).rejects.toThrow(
      'index spec portable.a is declared twice',
    );
    expect(await ctx.db.listCollections({ name: 'portable' }).toArray()).toEqual([]);
  });

  it('enforces a unique index (a duplicate insert fails with 11000)', async () => {
    await migrate(ctx.db, specs);
    const contacts = tenantRepository<Contact>(ctx.db, 'contacts');
    await contacts.insertOne(acme, { waId: '999', name: 'first' });
    await expect(contacts.insertOne(acme, { waId: '999', name: 'second' })).rejects.toMatchObject({
      code: 11000,
    });
    await contacts.insertOne(globex, { waId: '999', name: 'other workspace is fine' });
  });

  it('answers a ping for readiness', async () => {
    await expect(mongoCheck(ctx.db).probe()).resolves.toMatchObject({ ok: 1 });
  });
});

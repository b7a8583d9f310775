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
    expect(await contacts.count(acme)).toBe(1);

    const update = await contacts.updateOne(globex, { waId: '911' }, { $set: { name: 'Benedict' } });
    expect(update).toEqual({ matched: 1, modified: 1, upserted: false });
    expect((await contacts.findOne(acme, { waId: '911' }))?.name).toBe('Asha');

    expect(await contacts.deleteOne(acme, { waId: '911' })).toBe(1);
    expect(await contacts.count(globex)).toBe(1);
  });

  it('overrides a workspaceId smuggled into the filter through a cast', async () => {
    const contacts = tenantRepository<Contact>(ctx.db, 'contacts_smuggle');
    await contacts.insertOne(globex, { waId: '912', name: 'Other tenant' });
    const smuggled = { waId: '912', workspaceId: 'ws_globex' } as unknown as Parameters<
      typeof contacts.find
    >[1];
    expect(await contacts.find(acme, smuggled)).toEqual([]);
  });

  it('does not compile a query without a validated workspace', () => {
    const contacts = tenantRepository<Contact>(ctx.db, 'contacts');
    // These lines are checked by `tsc` (check-types): each must stay a type error.
    // @ts-expect-error a plain string is not a WorkspaceId
    void contacts.find('ws_acme', {});
    // @ts-expect-error the workspace argument cannot be left out
    void contacts.find({ waId: '911' });
    // @ts-expect-error the workspace cannot be put in the filter
    void contacts.find(acme, { workspaceId: 'ws_globex' });
    expect(() => asWorkspaceId('bad id with spaces')).toThrow(RangeError);
  });
});

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

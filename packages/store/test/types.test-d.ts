/*
 * Type test, compiled by `tsc` (the package's `check-types`, run in CI) and never executed.
 * Every `@ts-expect-error` line must stay a type error: if a change to the repository types
 * lets the misuse compile, the directive is unused and the build fails. The lines without
 * the directive must keep compiling.
 */
import type { ObjectId } from 'mongodb';
import {
  asWorkspaceId,
  type GlobalRepository,
  type StoreFilter,
  type TenantDocument,
  type TenantFilter,
  type TenantRepository,
  type TenantUpdate,
} from '../src/index';

interface Contact extends TenantDocument {
  waId: string;
  name?: string;
  tags: string[];
  optedOut: boolean;
  profile: { locale: string; age?: number };
  notes: { text: string; at: Date }[];
  createdAt: Date;
  messageCount: number;
}

/** A global directory keyed by a natural `_id`. */
interface PhoneNumberRoute {
  _id: string;
  workspaceId: string;
  expiresAt?: Date;
}

const acme = asWorkspaceId('ws_acme');
const newContact = {
  waId: '911',
  tags: [],
  optedOut: false,
  profile: { locale: 'en' },
  notes: [],
  createdAt: new Date(),
  messageCount: 0,
};

export function tenantMisuse(contacts: TenantRepository<Contact>) {
  // --- the workspace
  // @ts-expect-error a plain string is not a WorkspaceId
  void contacts.find('ws_acme', {});
  // @ts-expect-error the workspace argument cannot be left out
  void contacts.find({ waId: '911' });
  // @ts-expect-error the workspace cannot be put in the filter
  void contacts.find(acme, { workspaceId: 'ws_globex' });
  const smuggled = { workspaceId: 'ws_globex' };
  // @ts-expect-error not even through a variable (no excess-property check there)
  void contacts.find(acme, smuggled);
  // @ts-expect-error nor inside $or
  void contacts.find(acme, { $or: [{ workspaceId: 'ws_globex' }] });

  // --- filters typed by the document
  // @ts-expect-error wrong field type in a filter
  void contacts.find(acme, { waId: 123 });
  // @ts-expect-error unknown field in a filter
  void contacts.find(acme, { phone: '911' });
  // @ts-expect-error wrong type under an operator
  void contacts.find(acme, { messageCount: { $gt: 'many' } });
  // @ts-expect-error $in takes values of the field's type
  void contacts.find(acme, { waId: { $in: [1, 2] } });
  // @ts-expect-error $regex only on string fields
  void contacts.find(acme, { messageCount: { $regex: '^1' } });
  // @ts-expect-error $size only on arrays
  void contacts.find(acme, { waId: { $size: 1 } });
  // @ts-expect-error unknown dotted path
  void contacts.find(acme, { 'profile.language': 'en' });
  // @ts-expect-error wrong type at a dotted path
  void contacts.find(acme, { 'profile.age': '30' });
  // @ts-expect-error unknown field inside $elemMatch
  void contacts.find(acme, { notes: { $elemMatch: { body: 'x' } } });
  // @ts-expect-error unknown field inside $and
  void contacts.countDocuments(acme, { $and: [{ phone: '911' }] });
  // @ts-expect-error filters of updates, deletes and bulk operations are typed the same way
  void contacts.deleteMany(acme, { waId: 911 });

  // --- inserts
  // @ts-expect-error an empty insert misses required fields
  void contacts.insertOne(acme, {});
  // @ts-expect-error a missing required field
  void contacts.insertOne(acme, { waId: '911' });
  // @ts-expect-error the workspace is set by the repository
  void contacts.insertOne(acme, { ...newContact, workspaceId: 'ws_globex' });
  // @ts-expect-error an unknown field
  void contacts.insertOnce(acme, { ...newContact, phone: '911' });
  // @ts-expect-error every document of a batch is checked
  void contacts.insertMany(acme, [newContact, { waId: '912' }]);

  // --- updates
  // @ts-expect-error unknown $set key
  void contacts.updateOne(acme, {}, { $set: { phone: '911' } });
  // @ts-expect-error wrong $set value type
  void contacts.updateOne(acme, {}, { $set: { optedOut: 'yes' } });
  // @ts-expect-error workspaceId in $set
  void contacts.updateOne(acme, {}, { $set: { workspaceId: 'ws_globex' } });
  // @ts-expect-error nor through a path under workspaceId
  void contacts.updateOne(acme, {}, { $set: { 'workspaceId.x': 1 } });
  // @ts-expect-error nor by removing it
  void contacts.updateMany(acme, {}, { $unset: { workspaceId: '' } });
  // @ts-expect-error nor by renaming it
  void contacts.updateOne(acme, {}, { $rename: { workspaceId: 'formerWorkspace' } });
  // @ts-expect-error nor on insert
  void contacts.findOneAndUpdate(acme, {}, { $setOnInsert: { workspaceId: 'ws_globex' } }, { upsert: true });
  // @ts-expect-error a replacement document is not an operator update
  void contacts.updateOne(acme, {}, { name: 'replaced' });
  // @ts-expect-error $inc only on numeric fields
  void contacts.updateOne(acme, {}, { $inc: { waId: 1 } });
  // @ts-expect-error $unset only on optional fields (a required one would break the type)
  void contacts.updateOne(acme, {}, { $unset: { waId: '' } });
  // @ts-expect-error $push only onto arrays, with elements of their type
  void contacts.updateOne(acme, {}, { $push: { tags: 1 } });
  // @ts-expect-error unknown field under a positional path
  void contacts.updateOne(acme, {}, { $set: { 'notes.$.body': 'x' } });
  // @ts-expect-error _id cannot be changed
  void contacts.updateOne(acme, {}, { $set: { _id: 'x' } });

  // --- bulkWrite: the same types per operation
  // @ts-expect-error an insert inside bulkWrite misses required fields
  void contacts.bulkWrite(acme, [{ insertOne: { document: {} } }]);
  // @ts-expect-error workspaceId in a bulk update
  void contacts.bulkWrite(acme, [{ updateOne: { filter: {}, update: { $set: { workspaceId: 'x' } } } }]);
  // @ts-expect-error workspaceId in a bulk filter
  void contacts.bulkWrite(acme, [{ deleteMany: { filter: { workspaceId: 'ws_globex' } } }]);
}

export function tenantUse(contacts: TenantRepository<Contact>, id: ObjectId) {
  void contacts.find(acme, {});
  void contacts.findOne(acme, { _id: id });
  void contacts.find(acme, {
    waId: { $in: ['911', '912'] },
    name: null,
    tags: 'vip',
    optedOut: { $ne: true },
    'profile.locale': { $regex: /^en/ },
    'profile.age': { $gte: 18 },
    'notes.text': 'hello',
    notes: { $elemMatch: { at: { $gt: new Date(0) } }, $size: 2 },
    createdAt: { $lte: new Date() },
    $or: [{ messageCount: { $gt: 10 } }, { tags: { $all: ['a', 'b'] } }],
  });
  void contacts.countDocuments(acme);
  void contacts.insertOne(acme, newContact);
  void contacts.insertOnce(acme, { ...newContact, name: 'Asha' });
  void contacts.insertMany(acme, [newContact, newContact], { ignoreDuplicates: true });
  void contacts.updateOne(
    acme,
    { waId: '911' },
    {
      $set: { name: 'Asha', 'profile.locale': 'fr', 'notes.$.text': 'edited', 'notes.0.at': new Date() },
      $inc: { messageCount: 1, 'profile.age': 1 },
      $push: { notes: { $each: [{ text: 'hi', at: new Date() }], $slice: -50 } },
      $addToSet: { tags: 'vip' },
      $pull: { notes: { text: 'spam' } },
      $unset: { name: '' },
      $currentDate: { createdAt: true },
    },
    { upsert: true },
  );
  void contacts.findOneAndUpdate(
    acme,
    { waId: '911' },
    { $set: { optedOut: true } },
    { returnDocument: 'after' },
  );
  void contacts.deleteOne(acme, { waId: '911' });
  void contacts.aggregate<{ _id: string; n: number }>(acme, [{ $group: { _id: '$waId', n: { $sum: 1 } } }]);
  void contacts.bulkWrite(acme, [
    { insertOne: { document: newContact } },
    { updateOne: { filter: { waId: '911' }, update: { $inc: { messageCount: 1 } }, upsert: true } },
    { deleteMany: { filter: { optedOut: true } } },
  ]);
}

export function globalUse(routes: GlobalRepository<PhoneNumberRoute>) {
  void routes.findOne({ _id: 'pn_1' });
  void routes.insertOnce({ _id: 'pn_1', workspaceId: 'ws_acme' });
  void routes.updateOne({ _id: 'pn_1' }, { $set: { workspaceId: 'ws_acme', expiresAt: new Date() } });
  // @ts-expect-error a declared required _id must be given
  void routes.insertOne({ workspaceId: 'ws_acme' });
  // @ts-expect-error _id has the declared type
  void routes.findOne({ _id: 1 });
  // @ts-expect-error unknown field
  void routes.find({ phoneNumberId: 'pn_1' });
  // @ts-expect-error unknown $set key
  void routes.updateOne({ _id: 'pn_1' }, { $set: { target: 'x' } });
}

// A type that extends the driver's Document (`[key: string]: any`) is still checked by its
// named fields: the index signature is dropped.
interface Loose extends TenantDocument {
  [key: string]: unknown;
  waId: string;
}
export const looseOk: TenantFilter<Loose> = { waId: '911' };
// @ts-expect-error the index signature does not let unknown fields through
export const looseUnknown: TenantFilter<Loose> = { phone: '911' };
// @ts-expect-error nor values of the wrong type
export const looseWrongType: TenantFilter<Loose> = { waId: 911 };
export const storeFilter: StoreFilter<PhoneNumberRoute> = { workspaceId: 'ws_acme' };
export const update: TenantUpdate<Contact> = { $set: { optedOut: true } };

import type {
  AggregateOptions,
  AnyBulkWriteOperation,
  Collection,
  CountDocumentsOptions,
  Document,
  FindOptions,
  Sort,
  UpdateOptions,
} from 'mongodb';
import { duplicateCount, isDuplicateKeyError } from './duplicate-key';
import { assertOperatorUpdate, assertPipeline, bulkOperationName } from './guards';

/*
 * The untyped operations behind both repository kinds. A `Scope` decides what every filter
 * and every new document gets: the workspace for a tenant repository, nothing for a global
 * one. Every path to the server goes through it, so no method can forget it.
 */

/** @internal How a repository scopes what it sends to the server. */
export interface Scope {
  /** Whether updates are checked for `workspaceId` paths. */
  readonly tenant: boolean;
  filter(filter: object | undefined): Document;
  document(document: object): Document;
  /** The `$match` stage every pipeline starts with, if any. */
  readonly match: Document | undefined;
}

export const globalScope: Scope = {
  tenant: false,
  filter: (filter) => ({ ...filter }),
  document: (document) => ({ ...document }),
  match: undefined,
};

export function tenantScope(workspaceId: string): Scope {
  return {
    tenant: true,
    // Spread first, workspace last: a caller-supplied workspaceId (possible only through a
    // cast) is overwritten, never trusted.
    filter: (filter) => ({ ...filter, workspaceId }),
    document: (document) => ({ ...document, workspaceId }),
    match: { workspaceId },
  };
}

/** What an update did. `upserted` is true when it inserted a new document. */
export interface UpdateSummary {
  matched: number;
  modified: number;
  upserted: boolean;
}

/** What an `insertMany` did: `duplicates` counts documents skipped by `ignoreDuplicates`. */
export interface InsertManySummary {
  inserted: number;
  duplicates: number;
}

/** What a `bulkWrite` did, summed over its operations. */
export interface BulkWriteSummary {
  inserted: number;
  matched: number;
  modified: number;
  deleted: number;
  upserted: number;
}

/** Options of `findOneAndUpdate`. `returnDocument` defaults to `'before'`, as in the driver. */
export interface FindOneAndUpdateOptions {
  upsert?: boolean;
  returnDocument?: 'before' | 'after';
  sort?: Sort;
  projection?: Document;
}

/** Options of `insertMany`. */
export interface InsertManyOptions {
  /**
   * Insert the rest when some documents hit a unique index, and count them as duplicates
   * instead of failing (the writes are unordered then). Any other error still throws.
   */
  ignoreDuplicates?: boolean;
}

/** Options of `bulkWrite`. */
export interface BulkWriteOptions {
  /** Stop at the first failing operation (default true, as in the driver). */
  ordered?: boolean;
}

type Untyped = Collection<Document>;

const summary = (r: {
  matchedCount: number;
  modifiedCount: number;
  upsertedCount: number;
}): UpdateSummary => ({
  matched: r.matchedCount,
  modified: r.modifiedCount,
  upserted: r.upsertedCount > 0,
});

export async function findOne(c: Untyped, s: Scope, filter: object, options?: FindOptions) {
  return c.findOne(s.filter(filter), options);
}

export async function find(c: Untyped, s: Scope, filter: object, options?: FindOptions) {
  return c.find(s.filter(filter), options).toArray();
}

export async function countDocuments(c: Untyped, s: Scope, filter?: object, options?: CountDocumentsOptions) {
  return c.countDocuments(s.filter(filter), options);
}

export async function insertOne(c: Untyped, s: Scope, document: object): Promise<void> {
  await c.insertOne(s.document(document));
}

export async function insertOnce(c: Untyped, s: Scope, document: object): Promise<boolean> {
  try {
    await c.insertOne(s.document(document));
    return true;
  } catch (error) {
    if (isDuplicateKeyError(error)) return false;
    throw error;
  }
}

export async function insertMany(
  c: Untyped,
  s: Scope,
  documents: readonly object[],
  options: InsertManyOptions = {},
): Promise<InsertManySummary> {
  // The driver rejects an empty batch; an empty batch inserting nothing is not an error here.
  if (documents.length === 0) return { inserted: 0, duplicates: 0 };
  const scoped = documents.map((document) => s.document(document));
  if (!options.ignoreDuplicates) {
    const result = await c.insertMany(scoped);
    return { inserted: result.insertedCount, duplicates: 0 };
  }
  try {
    const result = await c.insertMany(scoped, { ordered: false });
    return { inserted: result.insertedCount, duplicates: 0 };
  } catch (error) {
    if (!isDuplicateKeyError(error)) throw error;
    const duplicates = duplicateCount(error);
    const reported = (error as { result?: { insertedCount?: unknown } }).result?.insertedCount;
    return { inserted: typeof reported === 'number' ? reported : documents.length - duplicates, duplicates };
  }
}

export async function updateOne(
  c: Untyped,
  s: Scope,
  method: string,
  filter: object,
  update: object,
  options?: UpdateOptions,
): Promise<UpdateSummary> {
  assertOperatorUpdate(update, method, s.tenant);
  // On upsert the server copies the filter's equality fields, including the workspaceId the
  // scope sets, into the inserted document (checked on FerretDB by the tests).
  return summary(await c.updateOne(s.filter(filter), update, options));
}

export async function updateMany(
  c: Untyped,
  s: Scope,
  method: string,
  filter: object,
  update: object,
  options?: UpdateOptions,
): Promise<UpdateSummary> {
  assertOperatorUpdate(update, method, s.tenant);
  return summary(await c.updateMany(s.filter(filter), update, options));
}

export async function findOneAndUpdate(
  c: Untyped,
  s: Scope,
  method: string,
  filter: object,
  update: object,
  options: FindOneAndUpdateOptions = {},
) {
  assertOperatorUpdate(update, method, s.tenant);
  return c.findOneAndUpdate(s.filter(filter), update, { ...options, includeResultMetadata: false });
}

export async function deleteOne(c: Untyped, s: Scope, filter: object): Promise<number> {
  return (await c.deleteOne(s.filter(filter))).deletedCount;
}

export async function deleteMany(c: Untyped, s: Scope, filter: object): Promise<number> {
  return (await c.deleteMany(s.filter(filter))).deletedCount;
}

export async function aggregate(
  c: Untyped,
  s: Scope,
  method: string,
  pipeline: readonly Document[],
  options?: AggregateOptions,
) {
  assertPipeline(pipeline, method);
  // The workspace match goes first, so every later stage sees only this tenant's documents.
  const stages = s.match ? [{ $match: s.match }, ...pipeline] : [...pipeline];
  return c.aggregate(stages, options).toArray();
}

/** Rebuilds one bulk operation from its known fields only, scoped and checked. */
function scopeOperation(s: Scope, method: string, operation: unknown): AnyBulkWriteOperation<Document> {
  const name = bulkOperationName(operation, method);
  const body = (operation as Record<string, Record<string, unknown> | undefined>)[name] ?? {};
  const filter = (body.filter ?? {}) as object;
  const withOptional = <K extends string>(key: K) =>
    body[key] === undefined ? {} : ({ [key]: body[key] } as Record<K, never>);
  switch (name) {
    case 'insertOne':
      return { insertOne: { document: s.document((body.document ?? {}) as object) } };
    case 'replaceOne': {
      const replacement = (body.replacement ?? {}) as object;
      // A replacement with operators would be an update that skipped the update check.
      if (Object.keys(replacement).some((key) => key.startsWith('$')))
        throw new RangeError(`${method}: replaceOne takes a whole document; use updateOne for operators`);
      return {
        replaceOne: {
          filter: s.filter(filter),
          replacement: s.document(replacement),
          ...withOptional('upsert'),
        },
      };
    }
    case 'updateOne':
    case 'updateMany': {
      assertOperatorUpdate(body.update, `${method} ${name}`, s.tenant);
      const update = {
        filter: s.filter(filter),
        update: body.update as Document,
        ...withOptional('upsert'),
        ...withOptional('arrayFilters'),
      };
      return name === 'updateOne' ? { updateOne: update } : { updateMany: update };
    }
    case 'deleteOne':
      return { deleteOne: { filter: s.filter(filter) } };
    case 'deleteMany':
      return { deleteMany: { filter: s.filter(filter) } };
  }
}

export async function bulkWrite(
  c: Untyped,
  s: Scope,
  method: string,
  operations: readonly unknown[],
  options: BulkWriteOptions = {},
): Promise<BulkWriteSummary> {
  // Every operation is checked before any is sent, so a bad one changes nothing.
  const scoped = operations.map((operation) => scopeOperation(s, method, operation));
  if (scoped.length === 0) return { inserted: 0, matched: 0, modified: 0, deleted: 0, upserted: 0 };
  const result = await c.bulkWrite(scoped, { ordered: options.ordered ?? true });
  return {
    inserted: result.insertedCount,
    matched: result.matchedCount,
    modified: result.modifiedCount,
    deleted: result.deletedCount,
    upserted: result.upsertedCount,
  };
}

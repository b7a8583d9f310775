import type {
  AggregateOptions,
  CountDocumentsOptions,
  Db,
  Document,
  FindOptions,
  UpdateOptions,
  WithId,
} from 'mongodb';
import type {
  BulkWriteOptions,
  BulkWriteSummary,
  FindOneAndUpdateOptions,
  InsertManyOptions,
  InsertManySummary,
  UpdateSummary,
} from './operations';
import * as ops from './operations';
import type { StoreBulkOperation, StoreFilter, StoreInsert, StoreUpdate } from './types';

/**
 * A collection that belongs to no workspace (a webhook journal, a directory keyed by `_id`
 * such as phone number id → workspace). Same typed filters, updates and inserts as
 * `TenantRepository`, without the workspace argument; updates are operator updates only, and
 * `aggregate` refuses the same cross-collection stages.
 *
 * Use it only for data that is not a tenant's: a tenant collection reached through it would
 * lose its scoping.
 */
export interface GlobalRepository<T extends object> {
  readonly name: string;
  findOne(filter: StoreFilter<T>, options?: FindOptions): Promise<WithId<T> | null>;
  find(filter: StoreFilter<T>, options?: FindOptions): Promise<WithId<T>[]>;
  countDocuments(filter?: StoreFilter<T>, options?: CountDocumentsOptions): Promise<number>;
  /** Inserts one document; a unique-index violation throws (see `isDuplicateKeyError`). */
  insertOne(document: StoreInsert<T>): Promise<void>;
  /** Inserts unless the key exists: true if inserted, false if a duplicate (a successful no-op). */
  insertOnce(document: StoreInsert<T>): Promise<boolean>;
  /** Inserts a batch in one round trip; `ignoreDuplicates` skips documents whose key exists. */
  insertMany(documents: readonly StoreInsert<T>[], options?: InsertManyOptions): Promise<InsertManySummary>;
  /** Applies an operator update to one document (a replacement or pipeline throws a RangeError). */
  updateOne(filter: StoreFilter<T>, update: StoreUpdate<T>, options?: UpdateOptions): Promise<UpdateSummary>;
  updateMany(filter: StoreFilter<T>, update: StoreUpdate<T>, options?: UpdateOptions): Promise<UpdateSummary>;
  /** Updates one document and returns it before (default) or after (`returnDocument: 'after'`) the update. */
  findOneAndUpdate(
    filter: StoreFilter<T>,
    update: StoreUpdate<T>,
    options?: FindOneAndUpdateOptions,
  ): Promise<WithId<T> | null>;
  deleteOne(filter: StoreFilter<T>): Promise<number>;
  deleteMany(filter: StoreFilter<T>): Promise<number>;
  /** Runs `pipeline`; `$out`, `$merge`, `$lookup`, `$unionWith`, `$graphLookup` throw a RangeError. */
  aggregate<R extends Document = Document>(
    pipeline: readonly Document[],
    options?: AggregateOptions,
  ): Promise<R[]>;
  /** Several writes in one round trip; every update is checked as in `updateOne` before any is sent. */
  bulkWrite(
    operations: readonly StoreBulkOperation<T>[],
    options?: BulkWriteOptions,
  ): Promise<BulkWriteSummary>;
}

/** The repository over the non-tenant collection `name`; see `GlobalRepository`. */
export function globalRepository<T extends object>(db: Db, name: string): GlobalRepository<T> {
  const c = db.collection<Document>(name);
  const s = ops.globalScope;
  const repo: GlobalRepository<Document> = {
    name,
    findOne: (filter, options) => ops.findOne(c, s, filter, options) as never,
    find: (filter, options) => ops.find(c, s, filter, options) as never,
    countDocuments: (filter, options) => ops.countDocuments(c, s, filter, options),
    insertOne: (document) => ops.insertOne(c, s, document),
    insertOnce: (document) => ops.insertOnce(c, s, document),
    insertMany: (documents, options) => ops.insertMany(c, s, documents, options),
    updateOne: (filter, update, options) => ops.updateOne(c, s, `${name}.updateOne`, filter, update, options),
    updateMany: (filter, update, options) =>
      ops.updateMany(c, s, `${name}.updateMany`, filter, update, options),
    findOneAndUpdate: (filter, update, options) =>
      ops.findOneAndUpdate(c, s, `${name}.findOneAndUpdate`, filter, update, options) as never,
    deleteOne: (filter) => ops.deleteOne(c, s, filter),
    deleteMany: (filter) => ops.deleteMany(c, s, filter),
    aggregate: (pipeline, options) => ops.aggregate(c, s, `${name}.aggregate`, pipeline, options) as never,
    bulkWrite: (operations, options) => ops.bulkWrite(c, s, `${name}.bulkWrite`, operations, options),
  };
  return repo as unknown as GlobalRepository<T>;
}

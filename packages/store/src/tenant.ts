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
import type { TenantBulkOperation, TenantFilter, TenantInsert, TenantUpdate } from './types';

declare const workspaceBrand: unique symbol;

/** A workspace id that has been authenticated or validated; only such ids scope queries. */
export type WorkspaceId = string & { readonly [workspaceBrand]: true };

/** Brands a validated workspace id. Call it where the id is authenticated, nowhere else. */
export function asWorkspaceId(id: string): WorkspaceId {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(id))
    throw new RangeError(
      `invalid workspace id ${JSON.stringify(id)}: expected 1-64 letters, digits, '_' or '-'`,
    );
  return id as WorkspaceId;
}

/**
 * Every tenant document carries its workspace. Declare document types as interfaces that
 * extend this (not the driver's `Document`, whose index signature would be ignored anyway:
 * the repository types look only at the fields a type names).
 */
export interface TenantDocument {
  workspaceId: string;
}

/**
 * A collection of tenant data whose every operation takes the workspace first and puts it
 * in the filter (and in every new document). Reading or writing across tenants is
 * impossible by construction: there is no method without a `WorkspaceId`, a plain string does
 * not type-check as one, and `workspaceId` cannot appear in a filter, update or insert.
 *
 * Filters, updates and inserts are typed by `T` (see `TenantFilter`, `TenantUpdate`,
 * `TenantInsert`): an unknown field or a value of the wrong type does not compile.
 */
export interface TenantRepository<T extends TenantDocument> {
  readonly name: string;
  findOne(
    workspaceId: WorkspaceId,
    filter: TenantFilter<T>,
    options?: FindOptions,
  ): Promise<WithId<T> | null>;
  find(workspaceId: WorkspaceId, filter: TenantFilter<T>, options?: FindOptions): Promise<WithId<T>[]>;
  countDocuments(
    workspaceId: WorkspaceId,
    filter?: TenantFilter<T>,
    options?: CountDocumentsOptions,
  ): Promise<number>;
  /** Inserts one document into the workspace; a unique-index violation throws (see `isDuplicateKeyError`). */
  insertOne(workspaceId: WorkspaceId, document: TenantInsert<T>): Promise<void>;
  /**
   * Inserts one document unless a unique index already holds its key: true if it inserted,
   * false if it was a duplicate (a successful no-op, house style rule 11).
   */
  insertOnce(workspaceId: WorkspaceId, document: TenantInsert<T>): Promise<boolean>;
  /** Inserts a batch in one round trip (the way to write fast on FerretDB, see the README). */
  insertMany(
    workspaceId: WorkspaceId,
    documents: readonly TenantInsert<T>[],
    options?: InsertManyOptions,
  ): Promise<InsertManySummary>;
  /**
   * Applies an operator update to one document of the workspace. The update may not touch
   * `workspaceId` (compile error, and a RangeError at run time for casts, replacements and
   * pipelines). With `upsert: true` the new document gets the workspace from the filter.
   */
  updateOne(
    workspaceId: WorkspaceId,
    filter: TenantFilter<T>,
    update: TenantUpdate<T>,
    options?: UpdateOptions,
  ): Promise<UpdateSummary>;
  /** `updateOne` for every matching document of the workspace. */
  updateMany(
    workspaceId: WorkspaceId,
    filter: TenantFilter<T>,
    update: TenantUpdate<T>,
    options?: UpdateOptions,
  ): Promise<UpdateSummary>;
  /**
   * Updates one document of the workspace and returns it, as it was before the update
   * (default) or after it (`returnDocument: 'after'`); null if none matched and no upsert.
   */
  findOneAndUpdate(
    workspaceId: WorkspaceId,
    filter: TenantFilter<T>,
    update: TenantUpdate<T>,
    options?: FindOneAndUpdateOptions,
  ): Promise<WithId<T> | null>;
  /** Deletes one matching document of the workspace; returns how many (0 or 1). */
  deleteOne(workspaceId: WorkspaceId, filter: TenantFilter<T>): Promise<number>;
  /** Deletes every matching document of the workspace (`{}`: all of it); returns how many. */
  deleteMany(workspaceId: WorkspaceId, filter: TenantFilter<T>): Promise<number>;
  /**
   * Runs `pipeline` after a forced first stage `{ $match: { workspaceId } }`. Stages that reach
   * other collections (`$out`, `$merge`, `$lookup`, `$unionWith`, `$graphLookup`, also inside
   * `$facet`) throw a RangeError before anything is sent. `R` is the caller's claim about the
   * output shape; it is not checked.
   */
  aggregate<R extends Document = Document>(
    workspaceId: WorkspaceId,
    pipeline: readonly Document[],
    options?: AggregateOptions,
  ): Promise<R[]>;
  /**
   * Runs several writes in one round trip, each scoped to the workspace: inserted and
   * replacement documents get its `workspaceId`, every filter is narrowed to it, and every
   * update passes the same check as `updateOne`. All operations are checked before any is
   * sent, so one bad operation (a RangeError) writes nothing.
   */
  bulkWrite(
    workspaceId: WorkspaceId,
    operations: readonly TenantBulkOperation<T>[],
    options?: BulkWriteOptions,
  ): Promise<BulkWriteSummary>;
}

/** The tenant-scoped repository over collection `name`; see `TenantRepository`. */
export function tenantRepository<T extends TenantDocument>(db: Db, name: string): TenantRepository<T> {
  // The typed surface is `TenantRepository<T>`; underneath, documents are plain BSON.
  const c = db.collection<Document>(name);
  const s = ops.tenantScope;
  const repo: TenantRepository<TenantDocument> = {
    name,
    findOne: (ws, filter, options) => ops.findOne(c, s(ws), filter, options) as never,
    find: (ws, filter, options) => ops.find(c, s(ws), filter, options) as never,
    countDocuments: (ws, filter, options) => ops.countDocuments(c, s(ws), filter, options),
    insertOne: (ws, document) => ops.insertOne(c, s(ws), document),
    insertOnce: (ws, document) => ops.insertOnce(c, s(ws), document),
    insertMany: (ws, documents, options) => ops.insertMany(c, s(ws), documents, options),
    updateOne: (ws, filter, update, options) =>
      ops.updateOne(c, s(ws), `${name}.updateOne`, filter, update, options),
    updateMany: (ws, filter, update, options) =>
      ops.updateMany(c, s(ws), `${name}.updateMany`, filter, update, options),
    findOneAndUpdate: (ws, filter, update, options) =>
      ops.findOneAndUpdate(c, s(ws), `${name}.findOneAndUpdate`, filter, update, options) as never,
    deleteOne: (ws, filter) => ops.deleteOne(c, s(ws), filter),
    deleteMany: (ws, filter) => ops.deleteMany(c, s(ws), filter),
    aggregate: (ws, pipeline, options) =>
      ops.aggregate(c, s(ws), `${name}.aggregate`, pipeline, options) as never,
    bulkWrite: (ws, operations, options) => ops.bulkWrite(c, s(ws), `${name}.bulkWrite`, operations, options),
  };
  return repo as unknown as TenantRepository<T>;
}

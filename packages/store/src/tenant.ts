import type {
  Collection,
  Db,
  Document,
  Filter,
  FindOptions,
  OptionalUnlessRequiredId,
  UpdateFilter,
  UpdateOptions,
  WithId,
} from 'mongodb';

declare const workspaceBrand: unique symbol;

/** A workspace id that has been authenticated or validated; only such ids scope queries. */
export type WorkspaceId = string & { readonly [workspaceBrand]: true };

/** Brands a validated workspace id. Call it where the id is authenticated, nowhere else. */
export function asWorkspaceId(id: string): WorkspaceId {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(id)) throw new RangeError(`invalid workspace id ${JSON.stringify(id)}`);
  return id as WorkspaceId;
}

/** Every tenant document carries its workspace. */
export interface TenantDocument extends Document {
  workspaceId: string;
}

/** A filter without `workspaceId`: the repository adds it, so callers cannot forget or override it. */
export type TenantFilter<T extends TenantDocument> = Omit<Filter<T>, 'workspaceId'> & { workspaceId?: never };

/**
 * A collection of tenant data whose every operation takes the workspace first and puts it
 * in the filter. Reading across tenants is impossible by construction: there is no method
 * without a `WorkspaceId`, and a plain string does not type-check as one.
 */
export interface TenantRepository<T extends TenantDocument> {
  readonly name: string;
  findOne(
    workspaceId: WorkspaceId,
    filter: TenantFilter<T>,
    options?: FindOptions,
  ): Promise<WithId<T> | null>;
  find(workspaceId: WorkspaceId, filter: TenantFilter<T>, options?: FindOptions): Promise<WithId<T>[]>;
  count(workspaceId: WorkspaceId, filter?: TenantFilter<T>): Promise<number>;
  insertOne(workspaceId: WorkspaceId, doc: Omit<OptionalUnlessRequiredId<T>, 'workspaceId'>): Promise<void>;
  updateOne(
    workspaceId: WorkspaceId,
    filter: TenantFilter<T>,
    update: UpdateFilter<T>,
    options?: UpdateOptions,
  ): Promise<{ matched: number; modified: number; upserted: boolean }>;
  deleteOne(workspaceId: WorkspaceId, filter: TenantFilter<T>): Promise<number>;
}

function scoped<T extends TenantDocument>(workspaceId: WorkspaceId, filter: TenantFilter<T>): Filter<T> {
  // Spread first, workspace last: a caller-supplied workspaceId (possible only through a
  // cast) is overwritten, never trusted.
  return { ...(filter as Filter<T>), workspaceId } as Filter<T>;
}

export function tenantRepository<T extends TenantDocument>(db: Db, name: string): TenantRepository<T> {
  const collection: Collection<T> = db.collection<T>(name);
  return {
    name,
    findOne: (ws, filter, options) => collection.findOne(scoped(ws, filter), options),
    find: (ws, filter, options) => collection.find(scoped(ws, filter), options).toArray(),
    count: (ws, filter = {} as TenantFilter<T>) => collection.countDocuments(scoped(ws, filter)),
    async insertOne(ws, doc) {
      await collection.insertOne({ ...doc, workspaceId: ws } as unknown as OptionalUnlessRequiredId<T>);
    },
    async updateOne(ws, filter, update, options) {
      const result = await collection.updateOne(scoped(ws, filter), update, options);
      return {
        matched: result.matchedCount,
        modified: result.modifiedCount,
        upserted: result.upsertedCount > 0,
      };
    },
    async deleteOne(ws, filter) {
      return (await collection.deleteOne(scoped(ws, filter))).deletedCount;
    },
  };
}

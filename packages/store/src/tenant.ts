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
 * Keys an update operator may not name: the workspace field itself and any path under it.
 * Intersected into each operator below, so `$set: { workspaceId: … }` (or `'workspaceId.x'`)
 * is a compile error even though the driver's operator types accept any string key.
 */
interface NoWorkspacePaths {
  readonly workspaceId?: never;
  readonly [path: `workspaceId.${string}`]: never;
}

type UpdateOperator =
  | '$currentDate'
  | '$inc'
  | '$min'
  | '$max'
  | '$mul'
  | '$rename'
  | '$set'
  | '$setOnInsert'
  | '$unset'
  | '$addToSet'
  | '$pop'
  | '$pull'
  | '$push'
  | '$pullAll'
  | '$bit';

/**
 * An operator update (`$set`, `$inc`, …) that cannot touch `workspaceId`: moving a document
 * to another workspace would escape the tenant scope, so no operator may name the field or a
 * path under it. Unlike the driver's `UpdateFilter`, unknown top-level keys (a replacement
 * document) do not compile either. `$rename` values are plain strings, so renaming *to*
 * `workspaceId` is caught only by the runtime check in `updateOne`.
 */
export type TenantUpdate<T extends TenantDocument> = {
  [Op in UpdateOperator]?: NonNullable<UpdateFilter<T>[Op]> & NoWorkspacePaths;
};

const touchesWorkspace = (path: string): boolean => path === 'workspaceId' || path.startsWith('workspaceId.');

/**
 * The runtime half of `TenantUpdate`, for updates that reach `updateOne` through a cast or
 * untyped input. Throws a RangeError naming the offending operator.
 */
function assertTenantUpdate(update: unknown): void {
  if (typeof update !== 'object' || update === null || Array.isArray(update))
    throw new RangeError('tenant updateOne takes an operator update ($set, $inc, …), not a pipeline');
  for (const [op, fields] of Object.entries(update)) {
    if (!op.startsWith('$'))
      throw new RangeError(
        `tenant updateOne takes an operator update ($set, $inc, …), not a replacement document (found field ${JSON.stringify(op)})`,
      );
    // A malformed operator value is left for the server to reject; only field paths matter here.
    if (typeof fields !== 'object' || fields === null) continue;
    for (const [path, value] of Object.entries(fields)) {
      // $rename moves data both ways: from workspaceId (key) and onto it (value).
      const renamesOnto = op === '$rename' && typeof value === 'string' && touchesWorkspace(value);
      if (touchesWorkspace(path) || renamesOnto)
        throw new RangeError(
          `${op} may not change workspaceId (${JSON.stringify(renamesOnto ? value : path)}): a document cannot leave its workspace`,
        );
    }
  }
}

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
  ): Promise<{ matched: number; modified: number; upserted: boolean }>;
  deleteOne(workspaceId: WorkspaceId, filter: TenantFilter<T>): Promise<number>;
}

function scoped<T extends TenantDocument>(workspaceId: WorkspaceId, filter: TenantFilter<T>): Filter<T> {
  // Spread first, workspace last: a caller-supplied workspaceId (possible only through a
  // cast) is overwritten, never trusted.
  return { ...(filter as Filter<T>), workspaceId } as Filter<T>;
}

/** The tenant-scoped repository over collection `name`; see `TenantRepository`. */
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
      assertTenantUpdate(update);
      // On upsert the server copies the filter's equality fields, including the workspaceId
      // that `scoped` sets, into the inserted document (checked on FerretDB by the tests).
      const result = await collection.updateOne(scoped(ws, filter), update as UpdateFilter<T>, options);
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

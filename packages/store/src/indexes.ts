import { BSON, type CreateIndexesOptions, type Db, type IndexDirection } from 'mongodb';
import type { StoreLog } from './log';

/**
 * One index, declared beside the query it serves (`serves` names that query).
 * Tenant indexes start with `workspaceId` so that the same keys work as shard keys.
 */
export interface IndexSpec {
  collection: string;
  name: string;
  key: Record<string, IndexDirection>;
  options?: Omit<CreateIndexesOptions, 'name'>;
  serves: string;
}

export interface MigrateResult {
  created: string[];
  existing: string[];
}

/** What `listIndexes` reports about one index (the fields `migrate` compares). */
interface ExistingIndex {
  name: string;
  key: Record<string, unknown>;
  unique?: boolean;
  sparse?: boolean;
  partialFilterExpression?: unknown;
  expireAfterSeconds?: number;
}

/**
 * The key as the server reports it. A text index stores its text fields as
 * `_fts: 'text', _ftsx: 1` at the place of the first one (the fields go to `weights`).
 */
function reportedKey(key: Record<string, IndexDirection>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [field, direction] of Object.entries(key)) {
    if (direction === 'text') {
      out._fts = 'text';
      out._ftsx = 1;
    } else out[field] = direction;
  }
  return out;
}

// Relaxed EJSON: key order is kept (it matters for index keys), and 5 (Int32) equals 5.0 (Double).
const show = (value: unknown): string => (value === undefined ? 'none' : BSON.EJSON.stringify(value));

/** Every way `existing` differs from `spec`, e.g. `unique: false, spec has true`; empty if none. */
function differences(spec: IndexSpec, existing: ExistingIndex): string[] {
  const out: string[] = [];
  const compare = (what: string, actual: unknown, wanted: unknown) => {
    if (show(actual) !== show(wanted))
      out.push(`${what}: index has ${show(actual)}, spec has ${show(wanted)}`);
  };
  compare('key', existing.key, reportedKey(spec.key));
  // Unset and false mean the same for these flags; servers omit them when false.
  compare('unique', existing.unique === true, spec.options?.unique === true);
  compare('sparse', existing.sparse === true, spec.options?.sparse === true);
  compare('partialFilterExpression', existing.partialFilterExpression, spec.options?.partialFilterExpression);
  compare('expireAfterSeconds', existing.expireAfterSeconds, spec.options?.expireAfterSeconds);
  return out;
}

async function listIndexes(db: Db, collectionName: string): Promise<Map<string, ExistingIndex>> {
  const byName = new Map<string, ExistingIndex>();
  const collections = await db.listCollections({ name: collectionName }, { nameOnly: true }).toArray();
  if (collections.length > 0) {
    for (const index of await db.collection(collectionName).listIndexes().toArray())
      byName.set(index.name, index as ExistingIndex);
  }
  return byName;
}

/**
 * Options and key types that work on MongoDB 6+ but not on FerretDB 1.x (refused, or accepted
 * and not kept). A spec using one would pass in production and fail in development, or the
 * other way round, so `migrate` refuses it everywhere.
 */
function unportable(spec: IndexSpec): string | undefined {
  const options = spec.options ?? {};
  const instead = {
    expireAfterSeconds: 'FerretDB 1.x has no TTL index: delete expired documents with startExpirySweeper',
    partialFilterExpression:
      'FerretDB 1.x has no partial index: keep the documents that must be unique in their own collection',
    sparse: 'FerretDB 1.x accepts sparse but does not keep it, so the index would read as drifted',
  } as const;
  for (const option of ['expireAfterSeconds', 'partialFilterExpression', 'sparse'] as const)
    if (options[option] !== undefined) return `option ${option} (${instead[option]})`;
  for (const [field, direction] of Object.entries(spec.key))
    if (typeof direction === 'string')
      return `a ${direction} index on ${field} (FerretDB 1.x supports only ascending and descending keys)`;
  return undefined;
}

/** Throws naming the first spec that is malformed, unportable or named twice in one collection. */
function assertSpecs(specs: readonly IndexSpec[]): void {
  const seen = new Set<string>();
  for (const spec of specs) {
    const label = `${spec.collection}.${spec.name}`;
    if (seen.has(label)) throw new Error(`index spec ${label} is declared twice; give one a new name`);
    seen.add(label);
    if (Object.keys(spec.key).length === 0) throw new Error(`index spec ${label} has an empty key`);
    const problem = unportable(spec);
    if (problem) throw new Error(`index spec ${label} uses ${problem}; remove it from the spec`);
  }
}

/**
 * Creates every index that does not exist yet. Idempotent: an index that exists with the
 * same name and definition is left alone, so `migrate` runs at every start-up (before the
 * service listens) and as a deploy step:
 *
 * ```ts
 * await migrate(db, [...contactIndexes, ...messageIndexes], log);
 * ```
 *
 * An index that exists under a spec's name but with a different key (order included) or
 * different `unique` is never changed in place: `migrate` throws, naming `collection.index`,
 * the differences and the fix, before creating anything. Specs that FerretDB cannot honour
 * (`partialFilterExpression`, `expireAfterSeconds`, `sparse`, text/hashed/geo keys) and
 * duplicate spec names throw too. Logs one line with what it created and found, when given
 * `log`. Indexes that exist but have no spec are left alone.
 */
export async function migrate(db: Db, specs: readonly IndexSpec[], log?: StoreLog): Promise<MigrateResult> {
  assertSpecs(specs);
  const result: MigrateResult = { created: [], existing: [] };
  const byCollection = new Map<string, IndexSpec[]>();
  for (const spec of specs)
    byCollection.set(spec.collection, [...(byCollection.get(spec.collection) ?? []), spec]);

  // Check every collection first, so that a drifted index stops the deploy before any change.
  const missing: IndexSpec[] = [];
  for (const [collectionName, collectionSpecs] of byCollection) {
    const existing = await listIndexes(db, collectionName);
    for (const spec of collectionSpecs) {
      const label = `${collectionName}.${spec.name}`;
      const index = existing.get(spec.name);
      if (!index) {
        missing.push(spec);
        continue;
      }
      const diff = differences(spec, index);
      if (diff.length > 0)
        throw new Error(
          `index ${label} exists with a different definition (${diff.join('; ')}); migrate never ` +
            `changes an existing index: drop it (db.${collectionName}.dropIndex(${JSON.stringify(spec.name)})) ` +
            `and run migrate again, or give the spec a new name`,
        );
      result.existing.push(label);
    }
  }

  for (const spec of missing) {
    await db.collection(spec.collection).createIndex(spec.key, { ...spec.options, name: spec.name });
    result.created.push(`${spec.collection}.${spec.name}`);
  }
  log?.info({ created: result.created, existing: result.existing }, 'indexes migrated');
  return result;
}

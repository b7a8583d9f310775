import { BSON, type CreateIndexesOptions, type Db, type IndexDirection } from 'mongodb';

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
 * Creates every index that does not exist yet. Idempotent: an index that exists with the
 * same name and definition is left alone, so `migrate` runs at every start-up and as a
 * deploy step.
 *
 * An index that exists under a spec's name but with a different key (order included) or
 * different `unique`, `sparse`, `partialFilterExpression` or `expireAfterSeconds` is never
 * changed in place: `migrate` throws, naming `collection.index` and the differences, before
 * creating anything. Drop the old index or give the spec a new name.
 */
export async function migrate(db: Db, specs: readonly IndexSpec[]): Promise<MigrateResult> {
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
  return result;
}

import type { CreateIndexesOptions, Db, IndexDirection } from 'mongodb';

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

/**
 * Creates every index that does not exist yet. Idempotent: an index that exists with the
 * same name is left alone, so `migrate` runs at every start-up and as a deploy step.
 */
export async function migrate(db: Db, specs: readonly IndexSpec[]): Promise<MigrateResult> {
  const result: MigrateResult = { created: [], existing: [] };
  const byCollection = new Map<string, IndexSpec[]>();
  for (const spec of specs)
    byCollection.set(spec.collection, [...(byCollection.get(spec.collection) ?? []), spec]);
  for (const [collectionName, collectionSpecs] of byCollection) {
    const existingNames = new Set<string>();
    const collections = await db.listCollections({ name: collectionName }, { nameOnly: true }).toArray();
    if (collections.length > 0) {
      for (const index of await db.collection(collectionName).listIndexes().toArray())
        existingNames.add(index.name);
    }
    for (const spec of collectionSpecs) {
      const label = `${collectionName}.${spec.name}`;
      if (existingNames.has(spec.name)) {
        result.existing.push(label);
        continue;
      }
      await db.collection(collectionName).createIndex(spec.key, { ...spec.options, name: spec.name });
      result.created.push(label);
    }
  }
  return result;
}

/*
 * Run-time halves of the repository types, for values that arrive through a cast or
 * untyped input: the types stop honest mistakes, these stop everything else.
 */

const touchesWorkspace = (path: string): boolean => path === 'workspaceId' || path.startsWith('workspaceId.');

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Throws a RangeError unless `update` is an operator update (`$set`, `$inc`, …). With
 * `tenant`, no operator may name `workspaceId` or a path under it, and `$rename` may not
 * rename onto it: a document cannot leave its workspace.
 */
export function assertOperatorUpdate(update: unknown, method: string, tenant: boolean): void {
  if (!isPlainObject(update))
    throw new RangeError(`${method} takes an operator update ($set, $inc, …), not a pipeline or a value`);
  for (const [op, fields] of Object.entries(update)) {
    if (!op.startsWith('$'))
      throw new RangeError(
        `${method} takes an operator update ($set, $inc, …), not a replacement document (found field ${JSON.stringify(op)}); wrap the fields in $set`,
      );
    // A malformed operator value is left for the server to reject; only field paths matter here.
    if (!tenant || !isPlainObject(fields)) continue;
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
 * Stages that read or write another collection, and so could reach another tenant's data or
 * overwrite a collection: never allowed through a repository.
 */
export const FORBIDDEN_STAGES: readonly string[] = [
  '$out',
  '$merge',
  '$lookup',
  '$unionWith',
  '$graphLookup',
];

/**
 * Throws a RangeError if any stage of `pipeline` (including the sub-pipelines of `$facet`)
 * is one of `FORBIDDEN_STAGES`, or is not a stage object.
 */
export function assertPipeline(pipeline: unknown, method: string): void {
  if (!Array.isArray(pipeline)) throw new RangeError(`${method} takes an array of stages`);
  for (const stage of pipeline) {
    if (!isPlainObject(stage))
      throw new RangeError(`${method}: every stage must be an object such as { $match: … }`);
    for (const [name, body] of Object.entries(stage)) {
      if (FORBIDDEN_STAGES.includes(name))
        throw new RangeError(
          `${method} refuses ${name}: it reads or writes another collection, which could cross tenants; ` +
            'query the other collection through its own repository and join in code',
        );
      if (name === '$facet' && isPlainObject(body))
        for (const subPipeline of Object.values(body)) assertPipeline(subPipeline, method);
    }
  }
}

/** The only keys a bulkWrite operation may have. */
export const BULK_OPERATIONS = [
  'insertOne',
  'updateOne',
  'updateMany',
  'replaceOne',
  'deleteOne',
  'deleteMany',
] as const;
export type BulkOperationName = (typeof BULK_OPERATIONS)[number];

/** Returns the single operation name of a bulkWrite entry, or throws a RangeError. */
export function bulkOperationName(operation: unknown, method: string): BulkOperationName {
  const keys = isPlainObject(operation) ? Object.keys(operation) : [];
  const name = keys[0];
  if (keys.length !== 1 || !(BULK_OPERATIONS as readonly string[]).includes(name ?? ''))
    throw new RangeError(
      `${method}: each operation must be exactly one of ${BULK_OPERATIONS.join(', ')} (found ${JSON.stringify(keys)})`,
    );
  return name as BulkOperationName;
}

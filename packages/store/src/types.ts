import type { ObjectId } from 'mongodb';

/*
 * Typed filters, updates and inserts for the repositories. The driver's `Filter<T>` and
 * `UpdateFilter<T>` carry `[key: string]: any` parts, so `{ waId: 123 }` or `{ bogus: 1 }`
 * type-check against them; these types are mapped over the document's own keys instead, so
 * an unknown field or a value of the wrong type is a compile error.
 */

/** Depth limit for dotted paths (`a.b.c.d`): deep enough for our documents, bounded for tsc. */
type Depth = [unknown, unknown, unknown, unknown];

/**
 * The keys a document type declares, without index signatures: a type that extends the
 * driver's `Document` (`[key: string]: any`) still gets only its named fields checked.
 */
export type KnownKeys<T> = keyof {
  [K in keyof T as string extends K ? never : number extends K ? never : symbol extends K ? never : K]: T[K];
} &
  string;

/** `T` without index signatures, optional modifiers kept. */
export type KnownFields<T> = {
  [K in keyof T as string extends K ? never : number extends K ? never : symbol extends K ? never : K]: T[K];
};

/** Values that are matched whole, never walked into: scalars, dates, BSON values, binary. */
type Leaf =
  | string
  | number
  | boolean
  | bigint
  | symbol
  | null
  | undefined
  | Date
  | RegExp
  | Uint8Array
  | { readonly _bsontype: string }
  // biome-ignore lint/complexity/noBannedTypes: any function is a leaf; its shape does not matter here
  | Function;

/** True for a nested document (a plain object type we can walk into). */
type IsNested<V> = [V] extends [Leaf]
  ? false
  : [V] extends [readonly unknown[]]
    ? false
    : [V] extends [object]
      ? true
      : false;

/** The element type of an array field, or never. */
type ElementOf<V> = V extends readonly (infer U)[] ? U : never;

/**
 * Every field path of `T` a filter may name: its own keys, and dotted paths into nested
 * documents and into arrays of documents (`items.sku` matches any element), to four levels.
 */
export type FieldPath<T, D extends unknown[] = []> = D['length'] extends Depth['length']
  ? never
  : {
      [K in KnownKeys<T>]: K | SubPath<NonNullable<T[K]>, K, D>;
    }[KnownKeys<T>];

type SubPath<V, K extends string, D extends unknown[]> = [V] extends [readonly unknown[]]
  ? IsNested<NonNullable<ElementOf<V>>> extends true
    ? `${K}.${FieldPath<NonNullable<ElementOf<V>>, [...D, unknown]>}`
    : never
  : IsNested<V> extends true
    ? `${K}.${FieldPath<V, [...D, unknown]>}`
    : never;

/**
 * The type at `P` in `T`. Through an array of documents the path reaches the field of an
 * element; a dotted path may meet a missing parent, so its value may also be `undefined`.
 */
export type PathValue<T, P extends string> = P extends KnownKeys<T>
  ? T[P]
  : P extends `${infer K}.${infer Rest}`
    ? K extends KnownKeys<T>
      ? NestedValue<NonNullable<T[K]>, Rest> | (undefined extends T[K] ? undefined : never)
      : never
    : never;

type NestedValue<V, Rest extends string> = [V] extends [readonly unknown[]]
  ? PathValue<NonNullable<ElementOf<V>>, Rest>
  : PathValue<V, Rest>;

/** What an equality on a field of type `V` may compare with: the value, an element of an array, or `null` for a field that may be missing. */
type Comparand<V> =
  | (V extends readonly unknown[] ? V | ElementOf<V> : V extends undefined ? never : V)
  | (undefined extends V ? null : never);

/** Query operators on one field of type `V`, each typed by the field. */
export interface FieldOperators<V> {
  $eq?: Comparand<V>;
  $ne?: Comparand<V>;
  $in?: readonly Comparand<V>[];
  $nin?: readonly Comparand<V>[];
  $gt?: Comparand<V>;
  $gte?: Comparand<V>;
  $lt?: Comparand<V>;
  $lte?: Comparand<V>;
  $exists?: boolean;
  $regex?: [Extract<NonNullable<V> | ElementOf<V>, string>] extends [never] ? never : RegExp | string;
  $options?: [Extract<NonNullable<V> | ElementOf<V>, string>] extends [never] ? never : string;
  $not?: FieldOperators<V> | ([Extract<NonNullable<V>, string>] extends [never] ? never : RegExp);
  /** For an array field: an element matching all these conditions. */
  $elemMatch?: [ElementOf<NonNullable<V>>] extends [never]
    ? never
    : IsNested<ElementOf<NonNullable<V>>> extends true
      ? StoreFilter<ElementOf<NonNullable<V>>>
      : FieldOperators<ElementOf<NonNullable<V>>>;
  $all?: [ElementOf<NonNullable<V>>] extends [never] ? never : readonly ElementOf<NonNullable<V>>[];
  $size?: [ElementOf<NonNullable<V>>] extends [never] ? never : number;
}

/** A condition on one field: a value to equal (a RegExp for strings) or operators. */
export type FieldCondition<V> =
  | Comparand<V>
  | ([Extract<NonNullable<V> | ElementOf<V>, string>] extends [never] ? never : RegExp)
  | FieldOperators<V>;

/** The `_id` type of `T`: its declared `_id`, or the ObjectId the server generates. */
export type IdOf<T> =
  '_id' extends KnownKeys<T> ? (T extends { _id?: infer I } ? NonNullable<I> : never) : ObjectId;

/**
 * A filter over `T`'s own fields and dotted paths, `_id`, and `$and`/`$or`/`$nor` of the same
 * type; an unknown field or a value of the wrong type does not compile.
 */
export type StoreFilter<T> = {
  [P in FieldPath<T>]?: FieldCondition<PathValue<T, P>>;
} & {
  _id?: FieldCondition<IdOf<T>>;
  $and?: readonly StoreFilter<T>[];
  $or?: readonly StoreFilter<T>[];
  $nor?: readonly StoreFilter<T>[];
};

/** Paths an update may name: the filter paths, plus positional forms through arrays. */
export type UpdatePath<T, D extends unknown[] = []> = D['length'] extends Depth['length']
  ? never
  : {
      [K in Exclude<KnownKeys<T>, '_id'>]: K | UpdateSubPath<NonNullable<T[K]>, K, D>;
    }[Exclude<KnownKeys<T>, '_id'>];

/** `items.0`, `items.$`, `items.$[]`, `items.$[id]`, each optionally followed by `.field`. */
type Positional<K extends string> = `${K}.${number}` | `${K}.$` | `${K}.$[]` | `${K}.$[${string}]`;

type UpdateSubPath<V, K extends string, D extends unknown[]> = [V] extends [readonly unknown[]]
  ?
      | Positional<K>
      | (IsNested<NonNullable<ElementOf<V>>> extends true
          ? `${Positional<K>}.${UpdatePath<NonNullable<ElementOf<V>>, [...D, unknown]>}`
          : never)
  : IsNested<V> extends true
    ? `${K}.${UpdatePath<V, [...D, unknown]>}`
    : never;

/** The type at an update path; a positional segment stands for one element. */
export type UpdatePathValue<T, P extends string> = P extends KnownKeys<T>
  ? T[P]
  : P extends `${infer K}.${infer Rest}`
    ? K extends KnownKeys<T>
      ? UpdateNestedValue<NonNullable<T[K]>, Rest>
      : never
    : never;

type UpdateNestedValue<V, Rest extends string> = [V] extends [readonly unknown[]]
  ? Rest extends `${infer _Position}.${infer Field}`
    ? UpdatePathValue<NonNullable<ElementOf<V>>, Field>
    : ElementOf<V>
  : UpdatePathValue<V, Rest>;

type PathsWhere<T, Wanted> = {
  [P in UpdatePath<T>]: [NonNullable<UpdatePathValue<T, P>>] extends [never]
    ? never
    : NonNullable<UpdatePathValue<T, P>> extends Wanted
      ? P
      : never;
}[UpdatePath<T>];

type ArrayPaths<T> = PathsWhere<T, readonly unknown[]>;
type ArrayElementAt<T, P extends string> = ElementOf<NonNullable<UpdatePathValue<T, P>>>;

/** `$push` value: one element, or several with the `$each` modifiers. */
export type PushValue<E> =
  | E
  | { $each: readonly E[]; $position?: number; $slice?: number; $sort?: 1 | -1 | Record<string, 1 | -1> };

/**
 * An operator update whose every path is a field of `T` (or a dotted/positional path into
 * one) and whose every value has that field's type. A replacement document or a pipeline
 * does not compile. `_id` cannot be changed; `$unset` only names optional fields.
 */
export type StoreUpdate<T> = {
  $set?: { [P in UpdatePath<T>]?: UpdatePathValue<T, P> };
  $setOnInsert?: { [P in UpdatePath<T>]?: UpdatePathValue<T, P> };
  $min?: { [P in UpdatePath<T>]?: UpdatePathValue<T, P> };
  $max?: { [P in UpdatePath<T>]?: UpdatePathValue<T, P> };
  $unset?: { [P in UpdatePath<T> as undefined extends UpdatePathValue<T, P> ? P : never]?: '' | true | 1 };
  $inc?: { [P in PathsWhere<T, number>]?: number };
  $mul?: { [P in PathsWhere<T, number>]?: number };
  $bit?: { [P in PathsWhere<T, number>]?: { and: number } | { or: number } | { xor: number } };
  $currentDate?: { [P in PathsWhere<T, Date>]?: true | { $type: 'date' } };
  /** Renaming is checked at run time only: the target is a plain string. */
  $rename?: { [P in UpdatePath<T>]?: string };
  $push?: { [P in ArrayPaths<T>]?: PushValue<ArrayElementAt<T, P>> };
  $addToSet?: { [P in ArrayPaths<T>]?: ArrayElementAt<T, P> | { $each: readonly ArrayElementAt<T, P>[] } };
  $pull?: {
    [P in ArrayPaths<T>]?: IsNested<ArrayElementAt<T, P>> extends true
      ? StoreFilter<ArrayElementAt<T, P>>
      : FieldCondition<ArrayElementAt<T, P>>;
  };
  $pullAll?: { [P in ArrayPaths<T>]?: readonly ArrayElementAt<T, P>[] };
  $pop?: { [P in ArrayPaths<T>]?: 1 | -1 };
};

/**
 * A new document of `T`: every required field must be given. `_id` is required when `T`
 * declares it required, and optional otherwise (the server generates an ObjectId).
 */
export type StoreInsert<T> = KnownFields<Omit<KnownFields<T>, '_id'>> &
  ('_id' extends KnownKeys<T> ? Pick<KnownFields<T>, '_id' & keyof KnownFields<T>> : { _id?: ObjectId });

/** `T` as the caller sees it inside a workspace: without `workspaceId`, which the repository sets. */
export type Tenantless<T> = Omit<KnownFields<T>, 'workspaceId'>;

/**
 * Keys nothing inside a workspace may name: the workspace field itself and any path under it.
 * Intersected into the tenant types, so `workspaceId` is a compile error even when the value
 * arrives in a variable rather than a literal (where excess-property checks do not apply).
 */
export interface NoWorkspacePaths {
  readonly workspaceId?: never;
  readonly [path: `workspaceId.${string}`]: never;
}

/** A filter inside one workspace: `StoreFilter` of the document without `workspaceId`. */
export type TenantFilter<T> = StoreFilter<Tenantless<T>> & NoWorkspacePaths;

/** An update inside one workspace: `StoreUpdate` whose operators cannot reach `workspaceId`. */
export type TenantUpdate<T> = {
  [Op in keyof StoreUpdate<Tenantless<T>>]?: NonNullable<StoreUpdate<Tenantless<T>>[Op]> & NoWorkspacePaths;
};

/** A new document inside one workspace: every required field but `workspaceId`, which the repository sets. */
export type TenantInsert<T> = StoreInsert<Tenantless<T>> & { workspaceId?: never };

/** One operation of a typed `bulkWrite`, in the driver's shape. */
export type BulkOperation<Filter, Update, Insert> =
  | { insertOne: { document: Insert } }
  | { updateOne: { filter: Filter; update: Update; upsert?: boolean; arrayFilters?: readonly object[] } }
  | { updateMany: { filter: Filter; update: Update; upsert?: boolean; arrayFilters?: readonly object[] } }
  | { replaceOne: { filter: Filter; replacement: Insert; upsert?: boolean } }
  | { deleteOne: { filter: Filter } }
  | { deleteMany: { filter: Filter } };

/** A `bulkWrite` operation inside one workspace: every filter, document and replacement is scoped. */
export type TenantBulkOperation<T> = BulkOperation<TenantFilter<T>, TenantUpdate<T>, TenantInsert<T>>;

/** A `bulkWrite` operation on a global collection. */
export type StoreBulkOperation<T> = BulkOperation<StoreFilter<T>, StoreUpdate<T>, StoreInsert<T>>;

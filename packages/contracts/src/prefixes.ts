/**
 * Redis key and BullMQ queue prefixes.
 *
 * Every key wapi writes lives under one prefix wrapped in a Redis Cluster hash tag
 * (`{wapi}`), so that all keys a Lua script or a BullMQ queue touches hash to the same
 * slot and the same code runs on a single Redis and on Redis Cluster.
 */
export const DEFAULT_PREFIX = 'wapi';

/** What a prefix name may contain (KEY_PREFIX is validated against the same pattern). */
export const PREFIX_NAME = /^[A-Za-z0-9_.:-]{1,64}$/;

/** Wraps a prefix name in a hash tag: `wapi` -> `{wapi}`. Idempotent. */
export function hashTagged(prefix: string): string {
  const name = /^\{(.*)\}$/.exec(prefix)?.[1] ?? prefix;
  if (!PREFIX_NAME.test(name)) {
    throw new RangeError(
      `invalid prefix ${JSON.stringify(prefix)}: use name or {name}, 1-64 of [A-Za-z0-9_.:-]`,
    );
  }
  return `{${name}}`;
}

/** The BullMQ `prefix` option for every queue and worker. */
export function queuePrefix(prefix: string = DEFAULT_PREFIX): string {
  return `${hashTagged(prefix)}:q`;
}

/** A plain Redis key under the prefix: `keyOf('wapi', 'window', ws, wa)` -> `{wapi}:window:ws:wa`. */
export function keyOf(prefix: string, ...parts: string[]): string {
  return [hashTagged(prefix), ...parts].join(':');
}

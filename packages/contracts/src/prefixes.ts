/**
 * Redis key and BullMQ queue prefixes.
 *
 * Layout (KEY_PREFIX = `wapi`):
 *
 * | what                        | key                                                   | hash tag              |
 * |-----------------------------|-------------------------------------------------------|-----------------------|
 * | BullMQ queue `message.send.v1` | `wapi:{q:message.send.v1}:message.send.v1:<suffix>` | `q:message.send.v1`   |
 * | plain key, family `window`  | `wapi:{window}:<part>:<part>…`                        | `window`              |
 *
 * - `KEY_PREFIX` is always the leading part, followed by `:`, so every key of one
 *   deployment (or one test file) matches the SCAN pattern `` `${prefix}:*` `` and no other
 *   prefix's keys do (a prefix name contains neither `:` nor glob characters).
 * - Each queue and each key family has its own Redis Cluster hash tag, so a cluster
 *   spreads them over shards while every key of one queue (what BullMQ's Lua scripts
 *   touch together) or of one family stays on one slot. Consequence: a Lua script or a
 *   MULTI may only touch keys of ONE queue or ONE family. A queue tag (`q:…`) contains a
 *   `:` and a family name cannot, so the two never share a tag.
 * - Key parts are escaped (`%`, `:`, `{`, `}` become `%25`, `%3A`, `%7B`, `%7D`), so two
 *   different part lists never form the same key and a part can never open a hash tag.
 */
export const DEFAULT_PREFIX = 'wapi';

/**
 * What a prefix name (`KEY_PREFIX`) may contain. No `:` (it would let one prefix be the
 * start of another's keys, e.g. `a` and `a:b`), no `{`/`}` (hash tags are ours to place),
 * no glob characters (the prefix is used in SCAN patterns).
 */
export const PREFIX_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

/** What a key family name may contain: lowercase, no `:`, `{`, `}`. */
export const KEY_FAMILY_NAME = /^[a-z][a-z0-9_.-]{0,47}$/;

/** Throws unless `prefix` is a valid prefix name; returns it. */
export function prefixName(prefix: string): string {
  if (!PREFIX_NAME.test(prefix)) {
    throw new RangeError(
      `invalid key prefix ${JSON.stringify(prefix)}: set KEY_PREFIX to 1-64 of [A-Za-z0-9_.-] (no ':' or braces)`,
    );
  }
  return prefix;
}

/**
 * The BullMQ `prefix` option for one queue: `queuePrefix('wapi', 'message.send.v1')` ->
 * `wapi:{q:message.send.v1}`. BullMQ builds its keys as `${prefix}:${queueName}:…`, so the
 * hash tag must sit in the prefix, and it names the queue so each queue gets its own slot.
 * Producer and worker of one queue must use the same value (createProducer/createWorker do).
 */
export function queuePrefix(prefix: string, queueName: string): string {
  // BullMQ refuses ':' in a queue name; '{' / '}' would end our tag early.
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(queueName)) {
    throw new RangeError(
      `invalid queue name ${JSON.stringify(queueName)}: use 1-64 of [A-Za-z0-9_.-], e.g. message.send.v1`,
    );
  }
  return `${prefixName(prefix)}:{q:${queueName}}`;
}

/** The SCAN pattern matching every key (queues and plain keys) under `prefix`. */
export function prefixPattern(prefix: string): string {
  return `${prefixName(prefix)}:*`;
}

/**
 * Escapes one key part so that joining parts with `:` is injective and a part never
 * contains a hash-tag brace: `%` -> `%25`, `:` -> `%3A`, `{` -> `%7B`, `}` -> `%7D`.
 * `%` is escaped first, so the escaped text decodes back to exactly one part.
 */
export function escapeKeyPart(part: string): string {
  return part.replace(/[%:{}]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
}

/**
 * A plain Redis key of one family: `keyOf('wapi', 'window', 'ws1', '9198')` ->
 * `wapi:{window}:ws1:9198`. The family is the hash tag: every key of a family lives on one
 * Cluster slot, so a Lua script may touch several keys of ONE family, never of two.
 * Parts are escaped (see escapeKeyPart), so different part lists give different keys.
 */
export function keyOf(prefix: string, family: string, ...parts: string[]): string {
  if (!KEY_FAMILY_NAME.test(family)) {
    throw new RangeError(
      `invalid key family ${JSON.stringify(family)}: use 1-48 of [a-z0-9_.-], starting with a letter`,
    );
  }
  return [`${prefixName(prefix)}:{${family}}`, ...parts.map(escapeKeyPart)].join(':');
}

import { keyOf, type MessageCategory } from '@wapi/contracts';
import type { Redis } from 'ioredis';

/**
 * The suppression list as compliance publishes it to Redis, and the one-round-trip check
 * gateway and message-sender run before a send.
 *
 * Layout (family `suppression`, one hash tag, so one slot):
 *
 * | key | type | holds |
 * |---|---|---|
 * | `<prefix>:{suppression}:ws:<workspaceId>` | hash | contact (wa_id) -> `<flags>:<version>` |
 * | `<prefix>:{suppression}:ready` | string | set once the list was rebuilt from the database |
 *
 * `flags` is `a` (opted out of everything), `m` (of marketing), both or none (an empty
 * flag set is kept, not deleted, so its version still orders later writes); `version` is the
 * time (ms) of the consent change it reflects. A write never replaces a newer version, so
 * two compliance instances, or a rebuild racing a change, cannot put an older state back.
 *
 * Redis is a cache here; compliance's database is the truth. Without the `ready` key (a
 * flushed or new Redis) the hash may be incomplete, so `checkSuppression` answers
 * `ready: false` and the caller must ask compliance (`POST /internal/v1/suppression/check`),
 * which rebuilds the list before answering.
 */
export const SUPPRESSION_FAMILY = 'suppression';

/** Which scopes a contact has opted out of. */
export interface SuppressionFlags {
  /** Opted out of every message (a STOP keyword). */
  all: boolean;
  /** Opted out of marketing messages (Meta's button, user_preferences, error 131050). */
  marketing: boolean;
}

/** The hash holding one workspace's suppression list. */
export function suppressionKey(prefix: string, workspaceId: string): string {
  return keyOf(prefix, SUPPRESSION_FAMILY, 'ws', workspaceId);
}

/** The key whose presence says the list was rebuilt from the database and is complete. */
export function suppressionReadyKey(prefix: string): string {
  return keyOf(prefix, SUPPRESSION_FAMILY, 'ready');
}

/** `<flags>:<version>` as stored in the hash. */
export function encodeSuppression(flags: SuppressionFlags, version: number): string {
  return `${flags.all ? 'a' : ''}${flags.marketing ? 'm' : ''}:${Math.trunc(version)}`;
}

/** The flags of a stored value; no value means no opt-out. */
export function decodeSuppression(value: string | null | undefined): SuppressionFlags {
  if (!value) return { all: false, marketing: false };
  const flags = value.slice(0, value.indexOf(':'));
  return { all: flags.includes('a'), marketing: flags.includes('m') };
}

/**
 * Whether a message of `category` may not go to a contact with these flags: an opt-out of
 * everything blocks every category; a marketing opt-out blocks marketing only.
 */
export function isSuppressed(flags: SuppressionFlags, category: MessageCategory): boolean {
  return flags.all || (category === 'marketing' && flags.marketing);
}

/** The answer of {@link checkSuppression}. */
export interface SuppressionCheck {
  /**
   * False while the list is not known to be complete (Redis was flushed or never filled):
   * `suppressed` is then NOT to be trusted; ask compliance's check endpoint instead.
   */
  ready: boolean;
  /** One entry per contact, in the order given: true when the message must not be sent. */
  suppressed: boolean[];
}

/** Contacts per check; more is a caller bug (a send batch is at most this big). */
export const MAX_CHECK_CONTACTS = 1_000;

/**
 * Checks a batch of contacts of one workspace in ONE Redis round trip (EXISTS and HMGET on
 * keys of one hash tag, sent together). Give it a `request`-role connection: while Redis is
 * down it rejects at once, and the caller should then refuse or defer the send (never send
 * unchecked).
 */
export async function checkSuppression(
  redis: Redis,
  options: { prefix: string; workspaceId: string; contacts: readonly string[]; category: MessageCategory },
): Promise<SuppressionCheck> {
  const { prefix, workspaceId, contacts, category } = options;
  if (contacts.length > MAX_CHECK_CONTACTS) {
    throw new RangeError(
      `checkSuppression: ${contacts.length} contacts; check at most ${MAX_CHECK_CONTACTS} at once`,
    );
  }
  if (contacts.length === 0) {
    const ready = (await redis.exists(suppressionReadyKey(prefix))) === 1;
    return { ready, suppressed: [] };
  }
  // Both commands leave together: one round trip of latency, and one socket write on an
  // auto-pipelining connection. Not a `pipeline()`: building a Pipeline object per check was
  // ~5 % of message-sender's CPU at one check per message (docs/performance.md).
  const [exists, values] = await Promise.all([
    redis.exists(suppressionReadyKey(prefix)),
    redis.hmget(suppressionKey(prefix, workspaceId), ...contacts),
  ]);
  return {
    ready: exists === 1,
    suppressed: contacts.map((_, i) => isSuppressed(decodeSuppression(values[i]), category)),
  };
}

// Sets each contact's value unless the stored one has a newer version. KEYS[1] = the
// workspace hash; ARGV = contact, encoded value, version, contact, encoded value, version, …
const PUBLISH_SCRIPT = `
local written = 0
for i = 1, #ARGV, 3 do
  local current = redis.call('HGET', KEYS[1], ARGV[i])
  local newer = false
  if current then
    local v = tonumber(string.match(current, ':(%d+)$'))
    if v and v > tonumber(ARGV[i + 2]) then newer = true end
  end
  if not newer then
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
    written = written + 1
  end
end
return written
`;

/** One contact's state to publish. */
export interface SuppressionEntry {
  contact: string;
  flags: SuppressionFlags;
  /** Time (ms) of the consent change this state reflects; an older version never wins. */
  version: number;
}

/**
 * Publishes contacts' suppression state (compliance only): one script call per workspace,
 * each entry written unless Redis already holds a newer version for that contact. Returns
 * how many were written.
 */
export async function publishSuppression(
  redis: Redis,
  prefix: string,
  workspaceId: string,
  entries: readonly SuppressionEntry[],
): Promise<number> {
  if (entries.length === 0) return 0;
  const args = entries.flatMap((e) => [
    e.contact,
    encodeSuppression(e.flags, e.version),
    String(Math.trunc(e.version)),
  ]);
  return (await redis.eval(PUBLISH_SCRIPT, 1, suppressionKey(prefix, workspaceId), ...args)) as number;
}

/** Marks the list complete (compliance only, after a rebuild from the database). */
export async function markSuppressionReady(redis: Redis, prefix: string): Promise<void> {
  await redis.set(suppressionReadyKey(prefix), new Date().toISOString());
}

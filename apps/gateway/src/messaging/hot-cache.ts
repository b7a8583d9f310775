import type { PhoneNumberDoc } from './repositories';

/**
 * A small in-process cache with a time to live and a size bound (oldest entries go first),
 * for the send path's lookups that FerretDB answers only by scanning: a workspace's connected
 * numbers and its contacts' wa_ids. Entries are only ever positive facts ("this number is
 * connected", "this contact exists"), so a miss falls through to the database; staleness is
 * bounded by `ttlMs` (the sender re-checks the number before it calls Meta).
 */
export function hotCache<V>(maxEntries: number, ttlMs: number, now: () => number = Date.now) {
  const entries = new Map<string, { value: V; until: number }>();
  return {
    get(key: string): V | undefined {
      const entry = entries.get(key);
      if (!entry) return undefined;
      if (entry.until <= now()) {
        entries.delete(key);
        return undefined;
      }
      return entry.value;
    },
    set(key: string, value: V): void {
      entries.delete(key);
      entries.set(key, { value, until: now() + ttlMs });
      if (entries.size > maxEntries) {
        const oldest = entries.keys().next().value;
        if (oldest !== undefined) entries.delete(oldest);
      }
    },
    delete(key: string): void {
      entries.delete(key);
    },
  };
}
export type HotCache<V> = ReturnType<typeof hotCache<V>>;

/** The send path's caches, shared by the routes that fill and invalidate them. */
export interface SendCaches {
  /** `ws` -> its connected numbers (only non-empty lists are cached). */
  numbers: HotCache<PhoneNumberDoc[]>;
  /** `ws|contactId` -> the contact's wa_id (dropped on delete). */
  contacts: HotCache<string>;
}

export const sendCaches = (): SendCaches => ({
  numbers: hotCache(10_000, 5_000),
  contacts: hotCache(200_000, 60_000),
});
export const contactCacheKey = (ws: string, contactId: string) => `${ws}|${contactId}`;

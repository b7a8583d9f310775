import { type DirectoryEntry, directoryKey } from '@wapi/contracts';
import type { Redis } from 'ioredis';

/** Gateway's phone-number directory as the sender reads it: cached briefly per process. */
export interface DirectoryCache {
  /** The number's entry (`undefined` when gateway has not written one). */
  get(phoneNumberId: string): Promise<DirectoryEntry | undefined>;
}

/**
 * Reads `DirectoryEntry` (contracts' `directoryKey`, written by gateway) with a per-process
 * cache of `ttlMs`: one Redis read per number per `ttlMs` instead of one per message, while a
 * number's throughput level, portfolio or messaging limit still takes effect within `ttlMs`
 * of gateway syncing it. Concurrent misses for one number share one read.
 */
export function createDirectoryCache(
  redis: Redis,
  prefix: string,
  ttlMs: number,
  now: () => number = Date.now,
): DirectoryCache {
  const cache = new Map<string, { until: number; entry: Promise<DirectoryEntry | undefined> }>();
  return {
    get(phoneNumberId) {
      const t = now();
      const hit = cache.get(phoneNumberId);
      if (hit && hit.until > t) return hit.entry;
      const entry = redis.get(directoryKey(prefix, phoneNumberId)).then(
        (raw) => (raw ? (JSON.parse(raw) as DirectoryEntry) : undefined),
        (error: unknown) => {
          // Not cached: the next message asks Redis again.
          cache.delete(phoneNumberId);
          throw error;
        },
      );
      cache.set(phoneNumberId, { until: t + ttlMs, entry });
      return entry;
    },
  };
}

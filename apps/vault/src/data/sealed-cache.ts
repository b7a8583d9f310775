import { keyOf, type SecretChanged, vaultInvalidationChannel } from '@wapi/contracts';
import type { Redis } from 'ioredis';

/**
 * The newest version of each secret as stored (its envelope, never plaintext), kept in
 * Redis so a read costs one round trip instead of a MongoDB scan (FerretDB uses no index
 * for a lookup). MongoDB stays the record of truth: a miss reads it and fills the copy.
 *
 * A fill only replaces an older (revision, kekVersion): a reader that loaded a version from
 * MongoDB just before a writer replaced it cannot put the stale version back over the new.
 */
export interface CachedVersion {
  revision: number;
  /** 0 for a deletion marker. */
  kekVersion: number;
  /** The envelope; empty for a deletion marker. */
  sealed: string;
  createdAt: string;
}

export interface SealedCache {
  get(ws: string, purpose: string, recordId: string): Promise<CachedVersion | null>;
  /** Stores `version` unless a newer one is there; pipelined for a batch (the rewrap job). */
  fill(
    entries: ReadonlyArray<{ ws: string; purpose: string; recordId: string; version: CachedVersion }>,
  ): Promise<void>;
  /** Tells every client instance to drop its plaintext copy (see vault-client). */
  publishChanged(change: SecretChanged): Promise<void>;
}

const FILL = `
local r = tonumber(redis.call('HGET', KEYS[1], 'r') or '-1')
local k = tonumber(redis.call('HGET', KEYS[1], 'k') or '-1')
local nr = tonumber(ARGV[1])
local nk = tonumber(ARGV[2])
if r > nr or (r == nr and k >= nk) then return 0 end
redis.call('HSET', KEYS[1], 'r', ARGV[1], 'k', ARGV[2], 's', ARGV[3], 't', ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1
`;

/** A week: a copy unread for that long is reloaded from MongoDB on its next read. */
const TTL_MS = 7 * 24 * 3600 * 1000;

type FillCommand = (key: string, r: string, k: string, s: string, t: string, ttl: string) => Promise<number>;

export function sealedCache(redis: Redis, prefix: string): SealedCache {
  if (!(redis as unknown as { vaultFill?: FillCommand }).vaultFill)
    redis.defineCommand('vaultFill', { numberOfKeys: 1, lua: FILL });
  const keyFor = (ws: string, purpose: string, recordId: string) =>
    keyOf(prefix, 'vault.sealed', ws, purpose, recordId);
  return {
    async get(ws, purpose, recordId) {
      const [r, k, s, t] = await redis.hmget(keyFor(ws, purpose, recordId), 'r', 'k', 's', 't');
      if (r == null || k == null || s == null || t == null) return null;
      return { revision: Number(r), kekVersion: Number(k), sealed: s, createdAt: t };
    },
    async fill(entries) {
      if (entries.length === 0) return;
      const pipeline = redis.pipeline();
      for (const { ws, purpose, recordId, version } of entries)
        (pipeline as unknown as { vaultFill: (...args: string[]) => unknown }).vaultFill(
          keyFor(ws, purpose, recordId),
          String(version.revision),
          String(version.kekVersion),
          version.sealed,
          version.createdAt,
          String(TTL_MS),
        );
      const results = await pipeline.exec();
      const failed = results?.find(([error]) => error);
      if (failed) throw failed[0];
    },
    async publishChanged(change) {
      await redis.publish(vaultInvalidationChannel(prefix), JSON.stringify(change));
    },
  };
}

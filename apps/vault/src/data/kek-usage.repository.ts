import { AppError } from '@wapi/contracts';
import { globalRepository, type IndexSpec } from '@wapi/store';
import type { Db } from 'mongodb';

/**
 * How many encryptions each KEK has done. With random 96-bit GCM nonces one key may safely
 * seal about 2^32 messages (NIST SP 800-38D §8.3); past that a nonce repeat becomes likely
 * enough to matter. Instances reserve blocks of uses in MongoDB (one write per block, not
 * per seal), so the count holds across restarts and instances; a crashed instance's unused
 * reservation is simply lost, which only errs on the safe side.
 */
interface KekUsageDoc {
  _id: string;
  reserved: number;
}

export const KEK_USAGE = 'kek_usage';
export const kekUsageIndexes: IndexSpec[] = [];

/** The bound for random-nonce AES-GCM under one key. */
export const GCM_RANDOM_NONCE_LIMIT = 2 ** 32;

export interface KekUsage {
  /** Counts one encryption under `version`; throws VAULT_KEY_EXHAUSTED past the bound. */
  take(version: number): Promise<void>;
  /** How many uses of `version` have been reserved so far (for tests and metrics). */
  reserved(version: number): Promise<number>;
}

export function kekUsage(db: Db, options: { limit: number; block?: number }): KekUsage {
  const repo = globalRepository<KekUsageDoc>(db, KEK_USAGE);
  const block = Math.max(1, Math.min(options.block ?? 1_000, options.limit));
  const allowance = new Map<number, number>();
  const pending = new Map<number, Promise<void>>();

  async function reserve(version: number): Promise<void> {
    const after = await repo.findOneAndUpdate(
      { _id: `v${version}` },
      { $inc: { reserved: block } },
      { upsert: true, returnDocument: 'after' },
    );
    const end = after?.reserved ?? block;
    const granted = Math.max(0, Math.min(block, options.limit - (end - block)));
    if (granted === 0)
      throw new AppError(
        'VAULT_KEY_EXHAUSTED',
        `Key version ${version} reached its limit of ${options.limit} encryptions; add a new version to VAULT_KEYS and restart vault.`,
      );
    allowance.set(version, (allowance.get(version) ?? 0) + granted);
  }

  return {
    async take(version) {
      while ((allowance.get(version) ?? 0) <= 0) {
        // One reservation at a time per version: concurrent seals wait for it.
        let inFlight = pending.get(version);
        if (!inFlight) {
          inFlight = reserve(version).finally(() => pending.delete(version));
          pending.set(version, inFlight);
        }
        await inFlight;
      }
      allowance.set(version, allowance.get(version)! - 1);
    },
    async reserved(version) {
      return (await repo.findOne({ _id: `v${version}` }))?.reserved ?? 0;
    },
  };
}

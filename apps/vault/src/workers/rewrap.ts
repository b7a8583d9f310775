import type { KekUsage } from '../data/kek-usage.repository';
import type { SealedCache } from '../data/sealed-cache';
import { type SecretDoc, type SecretsRepository, secretDocId } from '../data/secrets.repository';
import { rewrap } from '../domain/envelope';
import type { KeyRing } from '../domain/key-ring';
import { AUDIT_ACTIONS, type Auditor, auditEvent } from '../domain/secrets';

export interface RewrapProgress {
  kekVersion: number;
  rewrapped: number;
  remaining: number;
}

export interface RewrapOptions {
  ring: KeyRing;
  store: SecretsRepository;
  cache: SealedCache;
  usage: KekUsage;
  audit: Auditor;
  /** Secrets per insert batch, Redis pipeline and progress report (default 500). */
  batchSize?: number;
  /**
   * Secrets read, and then deleted in one statement, per round (default 10 batches). On
   * FerretDB each read and each delete is a scan of the collection whatever its size, so
   * fewer, larger rounds are what makes the job fast; it also bounds the memory used.
   */
  roundSize?: number;
  now?: () => Date;
  onProgress?(progress: RewrapProgress): void;
  /** Checked between batches: stop early (graceful shutdown). */
  shouldStop?(): boolean;
}

/**
 * Re-wraps every stored data key under the ring's current KEK, batch by batch, without
 * opening a value. Each batch inserts the rewrapped copies (same revision, new KEK; their
 * `_id`s are natural, so a batch repeated after a crash is a duplicate no-op), updates the
 * Redis copies and audits; the old copies of a round are deleted only after that. A crash at any point leaves
 * every secret readable, and the next run picks up what is still under an older KEK.
 *
 * Batched inserts and one `$in` delete per round, never per-document updates: on FerretDB
 * every update, delete and lookup is a collection scan, while an insert batch is cheap.
 */
export async function rewrapAll(options: RewrapOptions): Promise<RewrapProgress> {
  const { ring, store, cache, usage, audit } = options;
  const batchSize = options.batchSize ?? 500;
  const roundSize = options.roundSize ?? batchSize * 10;
  const now = options.now ?? (() => new Date());
  const target = ring.current;
  let remaining = await store.keys.countBelow(target);
  let rewrapped = 0;
  const report = () => options.onProgress?.({ kekVersion: target, rewrapped, remaining });
  report();
  for (;;) {
    if (options.shouldStop?.()) break;
    const round = await store.keys.sealedBelow(target, roundSize);
    if (round.length === 0) break;
    let copiedInRound = 0;
    for (let i = 0; i < round.length; i += batchSize) {
      const batch = round.slice(i, i + batchSize);
      const copies: SecretDoc[] = [];
      for (const doc of batch) {
        if (ring.kek(target)!.kind === 'local') await usage.take(target);
        const ctx = {
          workspaceId: doc.workspaceId,
          purpose: doc.purpose,
          recordId: doc.recordId,
          revision: doc.revision,
        };
        copies.push({
          ...doc,
          _id: secretDocId(doc.workspaceId, doc.purpose, doc.recordId, doc.revision, target),
          kekVersion: target,
          sealed: await rewrap(ring, ctx, doc.sealed!),
        });
      }
      // A copy that exists already (a run killed after this insert) is a duplicate no-op.
      await store.keys.insertMany(copies);
      await cache.fill(
        copies.map((doc) => ({
          ws: doc.workspaceId,
          purpose: doc.purpose,
          recordId: doc.recordId,
          version: {
            revision: doc.revision,
            kekVersion: target,
            sealed: doc.sealed!,
            createdAt: doc.createdAt.toISOString(),
          },
        })),
      );
      const at = now();
      await audit.record(
        copies.map((doc) =>
          auditEvent(doc, 'vault', AUDIT_ACTIONS.rewrap, at, { revision: doc.revision, kekVersion: target }),
        ),
      );
      copiedInRound += batch.length;
      rewrapped += batch.length;
      remaining = Math.max(0, remaining - batch.length);
      report();
      if (options.shouldStop?.()) break;
    }
    // Only now, with their copies stored, do the old copies go: one statement per round.
    await store.keys.deleteIds(round.slice(0, copiedInRound).map((doc) => doc._id));
  }
  return { kekVersion: target, rewrapped, remaining };
}

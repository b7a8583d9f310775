import { randomBytes } from 'node:crypto';
import { keyOf } from '@wapi/contracts';
import type { createMetaClient } from '@wapi/meta-client';
import type { VaultClient } from '@wapi/vault-client';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { NUMBER_FIELDS } from '../onboarding/esb';
import { type NumberHealthDeps, recordDrop } from './health';
import type { NumberRecord } from './store';
import { isQualityDrop, messagingLimitOf, throughputOf } from './tiers';

type MetaClient = ReturnType<typeof createMetaClient>;

export interface NumberSyncDeps extends NumberHealthDeps {
  meta: Pick<MetaClient, 'getPhoneNumber'>;
  /** Reads each number's access token (`meta.access_token`, record = phone number id). */
  vault: Pick<VaultClient, 'get'>;
  log: Pick<Logger, 'warn' | 'info'>;
}

/** What one sync did. */
export interface SyncReport {
  synced: number;
  failed: number;
}

/**
 * Reads every connected number's display name, quality rating, messaging limit tier and
 * throughput from Graph and applies what changed: the record, the directory entry (pacing),
 * and a recorded, audited event for a quality drop. A number whose call fails is left as it
 * was and counted in `failed` (its token may be revoked: the log says which number).
 */
export async function syncNumbers(deps: NumberSyncDeps): Promise<SyncReport> {
  const report: SyncReport = { synced: 0, failed: 0 };
  const numbers = await deps.numbers.find({ status: 'connected' }, { limit: 100_000 });
  for (const number of numbers) {
    try {
      const token = await deps.vault.get(number.workspaceId, 'meta.access_token', number._id);
      const info = await deps.meta.getPhoneNumber(token, number._id, NUMBER_FIELDS);
      const tier = info.whatsapp_business_manager_messaging_limit ?? info.messaging_limit_tier;
      const limit = messagingLimitOf(tier);
      const throughput = throughputOf(info.throughput?.level);
      const now = deps.now();
      const patch = {
        ...(info.display_phone_number ? { displayPhoneNumber: info.display_phone_number } : {}),
        ...(info.verified_name ? { verifiedName: info.verified_name } : {}),
        ...(info.quality_rating ? { qualityRating: info.quality_rating } : {}),
        ...(tier ? { messagingLimitTier: tier } : {}),
        ...(limit !== undefined ? { messagingLimit: limit } : {}),
        ...(throughput !== undefined ? { throughputMps: throughput } : {}),
        syncedAt: now,
      };
      await deps.numbers.updateOne({ _id: number._id, workspaceId: number.workspaceId }, { $set: patch });
      const after: NumberRecord = { ...number, ...patch };
      await deps.directory.publish(after);
      if (isQualityDrop(number.qualityRating, patch.qualityRating))
        await recordDrop(deps, number, {
          kind: 'quality_drop',
          from: number.qualityRating,
          to: patch.qualityRating ?? null,
          source: 'sync',
          at: now,
        });
      report.synced += 1;
    } catch (error) {
      report.failed += 1;
      deps.log.warn(
        { err: error, phoneNumberId: number._id, workspaceId: number.workspaceId },
        'number health sync: Graph or vault could not be read for this number; it keeps its last values (check its token)',
      );
    }
  }
  return report;
}

/**
 * Runs `syncNumbers` every `intervalMs` on exactly one gateway instance per interval: each
 * instance's timer ticks, and only the one that takes the Redis lock (`SET NX PX`, held for
 * 90% of the interval, so a slow or dead holder cannot block the next round) syncs. Returns
 * `stop()`; an interval of 0 starts nothing.
 */
export function startNumberSync(
  deps: NumberSyncDeps & {
    redis: Redis;
    prefix: string;
    intervalMs: number;
    onSynced?(report: SyncReport): void;
  },
): { stop(): Promise<void> } {
  if (deps.intervalMs <= 0) return { stop: async () => undefined };
  const lock = keyOf(deps.prefix, 'gw-number-sync', 'lock');
  const me = randomBytes(9).toString('base64url');
  let running: Promise<void> | undefined;
  const tick = () => {
    if (running) return;
    running = (async () => {
      const taken = await deps.redis.set(
        lock,
        me,
        'PX',
        Math.max(1, Math.floor(deps.intervalMs * 0.9)),
        'NX',
      );
      if (taken !== 'OK') return;
      const report = await syncNumbers(deps);
      deps.log.info(report, 'number health sync done');
      deps.onSynced?.(report);
    })()
      .catch((error: unknown) =>
        deps.log.warn({ err: error }, 'number health sync did not run; the next tick retries'),
      )
      .finally(() => {
        running = undefined;
      });
  };
  const timer = setInterval(tick, deps.intervalMs);
  timer.unref();
  // The first round right away: a restarted instance need not wait a whole interval.
  tick();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}

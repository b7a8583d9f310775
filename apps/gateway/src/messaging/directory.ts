import {
  type DirectoryEntry,
  directoryKey,
  type WabaDirectoryEntry,
  wabaDirectoryKey,
} from '@wapi/contracts';
import type { Redis } from 'ioredis';
import type { MessagingRepositories, PhoneNumberDoc } from './repositories';

/** Meta's standard throughput (§5.1): what a reader assumes when the entry names none. */
const DEFAULT_MPS = 80;

/** The Graph facts a number's record may carry (numbers/store.ts `NumberRecord`). */
type WithFacts = PhoneNumberDoc & { messagingLimit?: number | null; syncedAt?: Date };

/**
 * The entry of a number: routing (workspace, WABA) and the pacing facts message-sender reads
 * (throughput, the portfolio's messaging limit, the portfolio), each only when known: the
 * throughput once Graph was read for the number (`syncedAt`) or a webhook changed it (absent
 * means 80 to readers, so a hand-connected number's entry stays as it was).
 */
export const entryOf = (doc: WithFacts): DirectoryEntry => ({
  phoneNumberId: doc._id,
  workspaceId: doc.workspaceId,
  wabaId: doc.wabaId,
  ...(doc.businessId ? { businessId: doc.businessId } : {}),
  ...((doc.syncedAt || doc.throughputMps !== DEFAULT_MPS) &&
  Number.isInteger(doc.throughputMps) &&
  doc.throughputMps >= 1
    ? { throughputMps: doc.throughputMps }
    : {}),
  ...(doc.messagingLimit !== undefined ? { messagingLimit: doc.messagingLimit } : {}),
});

const wabaEntryOf = (doc: PhoneNumberDoc): WabaDirectoryEntry => ({
  wabaId: doc.wabaId,
  workspaceId: doc.workspaceId,
});

/**
 * The phone_number_id -> workspace directory webhook-ingest routes by, and beside it the
 * WABA id -> workspace directory it routes the management webhooks by (template, quality and
 * account updates name only the WABA). The database is the truth; Redis is a cache written
 * on connect and rebuilt at start-up, and a miss is answered from the database (`GET
 * /internal/v1/directory/:phoneNumberId`, `GET /internal/v1/directory/waba/:wabaId`), so
 * losing Redis never loses routing. A WABA belongs to the workspace that connected its
 * numbers (Embedded Signup grants one business's WABA to one workspace); should two
 * workspaces connect numbers of one WABA, the latest connection receives its updates.
 */
export function phoneDirectory(redis: Redis, prefix: string, repos: MessagingRepositories) {
  const write = (pipeline: ReturnType<Redis['pipeline']>, doc: WithFacts) =>
    pipeline
      .set(directoryKey(prefix, doc._id), JSON.stringify(entryOf(doc)))
      .set(wabaDirectoryKey(prefix, doc.wabaId), JSON.stringify(wabaEntryOf(doc)));
  return {
    async publish(doc: WithFacts): Promise<void> {
      await write(redis.pipeline(), doc).exec();
    },
    /** Writes every connected number's entries (one pipeline); returns how many numbers. */
    async rebuild(): Promise<number> {
      const docs = await repos.phoneNumbers.find({ status: 'connected' });
      if (docs.length === 0) return 0;
      const pipeline = redis.pipeline();
      for (const doc of docs) write(pipeline, doc);
      await pipeline.exec();
      return docs.length;
    },
    /** The entry from Redis, else from the database (refilling Redis); null for an unknown number. */
    async lookup(phoneNumberId: string): Promise<DirectoryEntry | null> {
      const cached = await redis.get(directoryKey(prefix, phoneNumberId)).catch(() => null);
      if (cached) return JSON.parse(cached) as DirectoryEntry;
      const doc = await repos.phoneNumbers.findOne({ _id: phoneNumberId, status: 'connected' });
      if (!doc) return null;
      await write(redis.pipeline(), doc)
        .exec()
        .catch(() => undefined);
      return entryOf(doc);
    },
    /** The WABA's workspace from Redis, else from the database (refilling Redis); null if unknown. */
    async lookupWaba(wabaId: string): Promise<WabaDirectoryEntry | null> {
      const cached = await redis.get(wabaDirectoryKey(prefix, wabaId)).catch(() => null);
      if (cached) return JSON.parse(cached) as WabaDirectoryEntry;
      // A miss only (Redis lost or never written): the scan this costs on FerretDB is rare.
      // The latest connection wins, as it does when the entries are written.
      const [doc] = await repos.phoneNumbers.find(
        { wabaId, status: 'connected' },
        { sort: { connectedAt: -1 }, limit: 1 },
      );
      if (!doc) return null;
      await write(redis.pipeline(), doc)
        .exec()
        .catch(() => undefined);
      return wabaEntryOf(doc);
    },
  };
}
export type PhoneDirectory = ReturnType<typeof phoneDirectory>;

import { createHash } from 'node:crypto';

/**
 * The audit hash chain, as pure functions. Each workspace's entries are numbered 1, 2, 3 …
 * and each entry's hash covers its canonical form, which includes its sequence number and
 * the previous entry's hash; so editing, deleting, inserting or reordering any entry
 * breaks the chain at that entry. After a retention purge the chain starts at an anchor
 * (the first surviving sequence number and the hash of the last purged entry).
 */

/** The previous hash of entry 1. */
export const GENESIS_HASH = '0'.repeat(64);

export type Scalar = string | number | boolean | null;
export type ScalarMap = Record<string, Scalar>;

/** The fields an entry's hash covers. */
export interface ChainFields {
  workspaceId: string;
  seq: number;
  prevHash: string;
  /** Identity of the event it records (the job id), for redelivery checks. */
  eventId: string;
  actor: { type: string; id: string };
  action: string;
  target: { type: string; id: string };
  /** ISO-8601 in UTC, as `Date.toISOString()` writes it. */
  at: string;
  requestId?: string | undefined;
  ip?: string | undefined;
  userAgent?: string | undefined;
  outcome?: string | undefined;
  before?: ScalarMap | undefined;
  after?: ScalarMap | undefined;
  data?: ScalarMap | undefined;
}

function sorted(map: ScalarMap | undefined): [string, Scalar][] | null {
  if (!map) return null;
  return Object.keys(map)
    .sort()
    .map((k) => [k, map[k] as Scalar]);
}

/**
 * The canonical form: a JSON array in a fixed field order, maps as sorted key/value pairs
 * and absent fields as null, so the same entry always gives the same bytes whatever order
 * its fields were written or read in.
 */
export function canonicalEntry(e: ChainFields): string {
  return JSON.stringify([
    1, // canonical form version
    e.workspaceId,
    e.seq,
    e.prevHash,
    e.eventId,
    e.actor.type,
    e.actor.id,
    e.action,
    e.target.type,
    e.target.id,
    e.at,
    e.requestId ?? null,
    e.ip ?? null,
    e.userAgent ?? null,
    e.outcome ?? null,
    sorted(e.before),
    sorted(e.after),
    sorted(e.data),
  ]);
}

export function hashEntry(e: ChainFields): string {
  return createHash('sha256').update(canonicalEntry(e)).digest('hex');
}

/** Where a chain starts: entry `firstSeq`, whose prevHash must be `prevHash`. */
export interface ChainAnchor {
  firstSeq: number;
  prevHash: string;
}

export const GENESIS_ANCHOR: ChainAnchor = { firstSeq: 1, prevHash: GENESIS_HASH };

export type BrokenReason = 'missing' | 'unexpected_seq' | 'prev_hash_mismatch' | 'hash_mismatch';

export interface StoredEntry extends ChainFields {
  hash: string;
}

/**
 * Checks entries streamed in ascending `seq` order (ties as stored), one page at a time,
 * so memory stays flat whatever the chain's length. Create one per verification.
 */
export function createChainVerifier(anchor: ChainAnchor) {
  let expectedSeq = anchor.firstSeq;
  let prevHash = anchor.prevHash;
  let checked = 0;
  let lastSeq: number | null = null;
  let broken: { seq: number; reason: BrokenReason } | null = null;
  return {
    /** Feeds the next entry; false once the chain is broken (stop feeding). */
    next(entry: StoredEntry): boolean {
      if (broken) return false;
      // Below the anchor: left over from a purge interrupted between writing the anchor
      // and deleting; no longer part of the chain.
      if (entry.seq < anchor.firstSeq) return true;
      checked += 1;
      if (entry.seq > expectedSeq) broken = { seq: expectedSeq, reason: 'missing' };
      else if (entry.seq < expectedSeq) broken = { seq: entry.seq, reason: 'unexpected_seq' };
      else if (entry.prevHash !== prevHash) broken = { seq: entry.seq, reason: 'prev_hash_mismatch' };
      else if (hashEntry(entry) !== entry.hash) broken = { seq: entry.seq, reason: 'hash_mismatch' };
      if (broken) return false;
      prevHash = entry.hash;
      lastSeq = entry.seq;
      expectedSeq += 1;
      return true;
    },
    result() {
      return { valid: broken === null, checked, firstSeq: anchor.firstSeq, lastSeq, broken };
    },
  };
}

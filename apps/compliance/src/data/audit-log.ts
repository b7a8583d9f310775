import type { AuditEntry, AuditQuery, AuditV1 } from '@wapi/contracts';
import {
  globalRepository,
  type IndexSpec,
  isDuplicateKeyError,
  type TenantDocument,
  type TenantFilter,
  tenantRepository,
  type WorkspaceId,
} from '@wapi/store';
import type { Db } from 'mongodb';
import type { Logger } from 'pino';
import {
  type ChainAnchor,
  type ChainFields,
  createChainVerifier,
  GENESIS_ANCHOR,
  hashEntry,
  type ScalarMap,
} from '../domain/audit-chain';

/** One entry of a workspace's hash chain. `_id` is `<workspaceId>:<seq>`: the sequence claim. */
export interface AuditEntryDoc extends TenantDocument {
  _id: string;
  seq: number;
  /** `floor(seq / AUDIT_PAGE)`: reads go page by page with an equality filter (see below). */
  page: number;
  prevHash: string;
  hash: string;
  eventId: string;
  actor: { type: string; id: string };
  action: string;
  target: { type: string; id: string };
  /** When it happened (the producer's time; hashed as its ISO form). */
  at: Date;
  /** When this service appended it (its own clock; retention works on it). */
  recordedAt: Date;
  requestId?: string;
  ip?: string;
  userAgent?: string;
  outcome?: string;
  before?: ScalarMap;
  after?: ScalarMap;
  data?: ScalarMap;
}

/** Where a purged chain starts; `_id` is the workspace id. */
export interface AuditAnchorDoc extends TenantDocument, ChainAnchor {
  _id: string;
  purgedAt: Date;
}

/**
 * A hint of a workspace's last sequence number (`$max`, so it never goes back), from which
 * the real head is found by reading forward page by page. `_id` is the workspace id.
 */
export interface AuditHeadDoc extends TenantDocument {
  _id: string;
  seq: number;
}

/**
 * Entries per page. FerretDB serves no range or sort from an index: `seq >= n` sorted and
 * limited reads and sorts the whole workspace on every page. An equality filter on `page`
 * is evaluated inside PostgreSQL and returns only that page, so export, verify and query
 * read one page per round trip and sort it here, whatever the chain's length.
 */
export const AUDIT_PAGE = 1_000;
const pageOf = (seq: number) => Math.floor(seq / AUDIT_PAGE);

/** A workspace's audit retention, when it is not the default. */
export interface AuditSettingsDoc extends TenantDocument {
  _id: string;
  retentionDays: number;
}

export const AUDIT_INDEXES: IndexSpec[] = [
  {
    collection: 'audit_entries',
    name: 'workspace_seq',
    key: { workspaceId: 1, seq: 1 },
    // The sequence claim is the `_id`; this makes a second entry with the same seq impossible
    // even if an `_id` were written in another form.
    options: { unique: true },
    serves: 'chain order: head lookup, verify and export by seq, query pages (cursor = seq)',
  },
  {
    collection: 'audit_entries',
    name: 'workspace_page',
    key: { workspaceId: 1, page: 1 },
    serves: 'page reads: head lookup, verify, export and query, one page at a time',
  },
  {
    collection: 'audit_entries',
    name: 'workspace_event',
    key: { workspaceId: 1, eventId: 1 },
    serves: 'redelivery check of a retried audit job (is this event already in the chain?)',
  },
  {
    collection: 'audit_entries',
    name: 'workspace_action_at',
    key: { workspaceId: 1, action: 1, at: 1 },
    serves: 'audit query filtered by action and time range',
  },
];

/** An event to append: the queue payload plus the identity of the event (its job id). */
export type AuditInput = AuditV1 & { eventId: string };

interface Pending {
  input: AuditInput;
  maybeDuplicate: boolean;
  resolve(seq: number): void;
  reject(error: unknown): void;
}

/** Entries per insertMany (FerretDB: batches of 100 cost about a tenth per entry of single inserts). */
const BATCH = 100;
/** Batch inserts in flight at once per instance (see `schedule`). */
const MAX_FLUSHES = 2;
/** Conflicts (another instance took our sequence numbers) before the batch fails and its jobs retry. */
const MAX_CONFLICTS = 50;

function toApi(doc: AuditEntryDoc): AuditEntry {
  return {
    seq: doc.seq,
    at: doc.at.toISOString(),
    actor: doc.actor,
    action: doc.action,
    target: doc.target,
    ...(doc.requestId !== undefined ? { requestId: doc.requestId } : {}),
    ...(doc.ip !== undefined ? { ip: doc.ip } : {}),
    ...(doc.userAgent !== undefined ? { userAgent: doc.userAgent } : {}),
    ...(doc.outcome !== undefined ? { outcome: doc.outcome } : {}),
    ...(doc.before !== undefined ? { before: doc.before } : {}),
    ...(doc.after !== undefined ? { after: doc.after } : {}),
    ...(doc.data !== undefined ? { data: doc.data } : {}),
    prevHash: doc.prevHash,
    hash: doc.hash,
  };
}

function chainFieldsOf(doc: AuditEntryDoc): ChainFields {
  return {
    workspaceId: doc.workspaceId,
    seq: doc.seq,
    prevHash: doc.prevHash,
    eventId: doc.eventId,
    actor: doc.actor,
    action: doc.action,
    target: doc.target,
    at: doc.at.toISOString(),
    requestId: doc.requestId,
    ip: doc.ip,
    userAgent: doc.userAgent,
    outcome: doc.outcome,
    before: doc.before,
    after: doc.after,
    data: doc.data,
  };
}

export interface AuditLogDeps {
  db: Db;
  log: Logger;
  now?: () => Date;
  /** Default retention of entries, in days (a workspace may set its own). */
  retentionDays: number;
}

/**
 * The audit log: a hash chain per workspace, appended by group commit.
 *
 * Concurrency without transactions: an entry's `_id` is `<workspaceId>:<seq>`, so the
 * unique `_id` is the claim on a sequence number. An instance builds a batch on the head
 * it knows (seq and hash of the last entry, learnt only from the database or from its own
 * successful inserts, and entries are never changed), and inserts it in order. If another
 * instance claimed a number first, the insert fails with 11000 at that entry: the instance
 * re-reads the head, keeps what of its batch did land, and rebuilds the rest on the new
 * head. So every entry's prevHash is the hash of the entry that really holds seq - 1.
 */
export function createAuditLog(deps: AuditLogDeps) {
  const now = deps.now ?? (() => new Date());
  const entries = tenantRepository<AuditEntryDoc>(deps.db, 'audit_entries');
  const anchors = tenantRepository<AuditAnchorDoc>(deps.db, 'audit_anchors');
  const settings = tenantRepository<AuditSettingsDoc>(deps.db, 'audit_settings');
  const heads = new Map<string, { seq: number; hash: string }>();
  const pending = new Map<string, Pending[]>();
  const flushing = new Set<string>();
  let active = 0;
  let scheduled = false;

  /**
   * Starts flushes on the next tick, fullest workspace first, at most MAX_FLUSHES at once.
   * Appends that arrive while inserts are in flight wait and go in the next, bigger batch:
   * many small concurrent inserts into one collection are what FerretDB does worst.
   */
  function schedule(): void {
    if (scheduled) return;
    scheduled = true;
    setImmediate(() => {
      scheduled = false;
      const fullest = [...pending].sort((a, b) => b[1].length - a[1].length);
      for (const [ws, queue] of fullest) {
        if (active >= MAX_FLUSHES) break;
        if (queue.length > 0 && !flushing.has(ws)) void flush(ws as WorkspaceId);
      }
    });
  }

  async function anchorOf(ws: WorkspaceId): Promise<ChainAnchor> {
    const anchor = await anchors.findOne(ws, { _id: ws });
    return anchor ? { firstSeq: anchor.firstSeq, prevHash: anchor.prevHash } : GENESIS_ANCHOR;
  }

  const headHints = tenantRepository<AuditHeadDoc>(deps.db, 'audit_heads');

  /** One page of a workspace's entries, in seq order. */
  async function readPage(ws: WorkspaceId, page: number, filter: TenantFilter<AuditEntryDoc> = {}) {
    const docs = await entries.find(ws, { ...filter, page });
    return docs.sort((a, b) => a.seq - b.seq);
  }

  /**
   * The last entry of the chain: from the hint (or `fromSeq`, a seq known to exist), read
   * forward page by page until a page is not full. Entries have no gaps, so the last entry
   * of the first page that is not full is the head.
   */
  async function loadHead(ws: WorkspaceId, fromSeq?: number): Promise<{ seq: number; hash: string }> {
    const anchor = await anchorOf(ws);
    const hint = fromSeq ?? (await headHints.findOne(ws, { _id: ws }))?.seq ?? 0;
    let head = { seq: anchor.firstSeq - 1, hash: anchor.prevHash };
    for (let page = pageOf(Math.max(hint, anchor.firstSeq - 1)); ; page += 1) {
      const docs = await readPage(ws, page);
      const last = docs.at(-1);
      if (last && last.seq >= head.seq) head = { seq: last.seq, hash: last.hash };
      if (!last || last.seq < (page + 1) * AUDIT_PAGE - 1) return head;
    }
  }

  async function advanceHint(ws: WorkspaceId, seq: number): Promise<void> {
    try {
      await headHints.updateOne(ws, { _id: ws }, { $max: { seq } }, { upsert: true });
    } catch (error) {
      // Two instances upserting the first hint at once: the loser's update is then plain.
      if (!isDuplicateKeyError(error)) throw error;
      await headHints.updateOne(ws, { _id: ws }, { $max: { seq } });
    }
  }

  function build(ws: WorkspaceId, input: AuditInput, seq: number, prevHash: string): AuditEntryDoc {
    const at = new Date(input.at);
    const doc: AuditEntryDoc = {
      _id: `${ws}:${seq}`,
      workspaceId: ws,
      seq,
      page: pageOf(seq),
      prevHash,
      hash: '',
      eventId: input.eventId,
      actor: { type: input.actor.type, id: input.actor.id },
      action: input.action,
      target: { type: input.target.type, id: input.target.id },
      at,
      recordedAt: now(),
      ...(input.requestId !== undefined ? { requestId: input.requestId } : {}),
      ...(input.ip !== undefined ? { ip: input.ip } : {}),
      ...(input.userAgent !== undefined ? { userAgent: input.userAgent } : {}),
      ...(input.outcome !== undefined ? { outcome: input.outcome } : {}),
      ...(input.before !== undefined ? { before: input.before } : {}),
      ...(input.after !== undefined ? { after: input.after } : {}),
      ...(input.data !== undefined ? { data: input.data } : {}),
    };
    doc.hash = hashEntry(chainFieldsOf(doc));
    return doc;
  }

  /** Which of these events are already in the chain (for redelivered jobs only: it is a scan). */
  async function alreadyAppended(ws: WorkspaceId, eventIds: string[]): Promise<Map<string, number>> {
    if (eventIds.length === 0) return new Map();
    const found = await entries.find(
      ws,
      { eventId: { $in: eventIds } },
      { projection: { eventId: 1, seq: 1 } },
    );
    return new Map(found.map((d) => [d.eventId, d.seq]));
  }

  async function flush(ws: WorkspaceId): Promise<void> {
    const queue = pending.get(ws);
    if (!queue || queue.length === 0 || flushing.has(ws) || active >= MAX_FLUSHES) return;
    flushing.add(ws);
    active += 1;
    let batch = queue.splice(0, BATCH);
    try {
      const seen = await alreadyAppended(
        ws,
        batch.filter((p) => p.maybeDuplicate).map((p) => p.input.eventId),
      );
      batch = batch.filter((p) => {
        const seq = seen.get(p.input.eventId);
        if (seq !== undefined) p.resolve(seq);
        return seq === undefined;
      });
      let head = heads.get(ws) ?? (await loadHead(ws));
      for (let conflicts = 0; batch.length > 0; ) {
        const docs: AuditEntryDoc[] = [];
        let prev = head;
        for (const p of batch) {
          const doc = build(ws, p.input, prev.seq + 1, prev.hash);
          docs.push(doc);
          prev = { seq: doc.seq, hash: doc.hash };
        }
        try {
          // The repository sets workspaceId itself (it is hashed, so the doc carries it until here).
          await entries.insertMany(
            ws,
            docs.map(({ workspaceId: _, ...doc }) => doc),
          );
          // The hint only has to reach the head's page (loadHead reads forward from it), so it
          // is written once per page, not per batch: updates are scans and take turns. It is
          // written before the appends are acknowledged: the sweeper finds workspaces by it.
          if (pageOf(prev.seq) > pageOf(head.seq) || head.seq === 0) await advanceHint(ws, prev.seq);
          heads.set(ws, prev);
          for (const [i, d] of docs.entries()) batch[i]?.resolve(d.seq);
          batch = [];
        } catch (error) {
          if (!isDuplicateKeyError(error)) throw error;
          conflicts += 1;
          if (conflicts > MAX_CONFLICTS) throw error;
          // Another instance took some of our numbers. Ours that landed before the conflict
          // are in the chain (found by event id); the rest go on top of the new head.
          const firstSeq = docs[0]?.seq ?? 0;
          const landed = (
            await Promise.all(
              [...new Set(docs.map((d) => d.page))].map((page) =>
                entries.find(
                  ws,
                  { page, eventId: { $in: docs.map((d) => d.eventId) } },
                  { projection: { eventId: 1, seq: 1 } },
                ),
              ),
            )
          ).flat();
          const landedIds = new Map(landed.map((d) => [d.eventId, d.seq]));
          batch = batch.filter((p) => {
            const seq = landedIds.get(p.input.eventId);
            if (seq !== undefined) p.resolve(seq);
            return seq === undefined;
          });
          // The entry at firstSeq exists now (someone's): the head is at or after it.
          head = await loadHead(ws, firstSeq);
          heads.set(ws, head);
        }
      }
    } catch (error) {
      heads.delete(ws);
      for (const p of batch) p.reject(error);
    } finally {
      flushing.delete(ws);
      active -= 1;
      if ((pending.get(ws)?.length ?? 0) === 0) pending.delete(ws);
      schedule();
    }
  }

  /** Pages read per query request at most; a sparse filter continues with `nextCursor`. */
  const QUERY_PAGES = 20;

  const query = async (ws: WorkspaceId, q: AuditQuery) => {
    const limit = q.limit ?? 50;
    const filter: TenantFilter<AuditEntryDoc> = {};
    if (q.action) filter.action = q.action;
    if (q.actorType) filter['actor.type'] = q.actorType;
    if (q.actorId) filter['actor.id'] = q.actorId;
    if (q.targetType) filter['target.type'] = q.targetType;
    if (q.targetId) filter['target.id'] = q.targetId;
    if (q.from || q.to) {
      filter.at = {
        ...(q.from ? { $gte: new Date(q.from) } : {}),
        ...(q.to ? { $lt: new Date(q.to) } : {}),
      };
    }
    // Newest first: from the page below the cursor (or the head's page) downwards.
    const before = q.cursor ? Number(q.cursor) : (await loadHead(ws)).seq + 1;
    const anchor = await anchorOf(ws);
    const found: AuditEntryDoc[] = [];
    let page = pageOf(before - 1);
    const lowest = pageOf(anchor.firstSeq);
    for (let read = 0; page >= lowest && read < QUERY_PAGES && found.length <= limit; read += 1, page -= 1) {
      const docs = await readPage(ws, page, filter);
      found.push(...docs.filter((d) => d.seq < before && d.seq >= anchor.firstSeq).reverse());
    }
    const entriesOut = found.slice(0, limit);
    const last = entriesOut.at(-1);
    let nextCursor: string | null = null;
    if (found.length > limit && last) nextCursor = String(last.seq);
    // Stopped by the page budget with pages left: continue below the last page read.
    else if (page >= lowest) nextCursor = String((page + 1) * AUDIT_PAGE);
    return { entries: entriesOut.map(toApi), nextCursor };
  };

  /**
   * Entries from `fromSeq` to the head in seq order, a page at a time (memory stays flat for
   * any chain length). Pages up to the head's are all read, so a page emptied by tampering
   * shows as missing entries rather than as the end of the chain.
   */
  async function* scan(ws: WorkspaceId, fromSeq: number): AsyncGenerator<AuditEntryDoc> {
    const head = await loadHead(ws);
    for (let page = pageOf(fromSeq); page <= pageOf(head.seq); page += 1) {
      for (const doc of await readPage(ws, page)) if (doc.seq >= fromSeq) yield doc;
    }
  }

  return {
    /**
     * Appends one event to its workspace's chain; resolves with its sequence number.
     * `maybeDuplicate` (a retried or stalled job) makes it check first whether the event is
     * already in the chain. Appends gathered in the same tick are written as one batch.
     */
    append(input: AuditInput, options: { maybeDuplicate?: boolean } = {}): Promise<number> {
      const ws = input.workspaceId as WorkspaceId;
      return new Promise<number>((resolve, reject) => {
        const queue = pending.get(ws) ?? [];
        pending.set(ws, queue);
        queue.push({ input, maybeDuplicate: options.maybeDuplicate ?? false, resolve, reject });
        if (queue.length >= BATCH) void flush(ws);
        else schedule();
      });
    },

    query,
    scan,
    anchorOf,

    /** Verifies the chain from its anchor; reports the first broken link. */
    async verify(ws: WorkspaceId) {
      const anchor = await anchorOf(ws);
      const verifier = createChainVerifier(anchor);
      for await (const doc of scan(ws, anchor.firstSeq)) {
        if (!verifier.next({ ...chainFieldsOf(doc), hash: doc.hash })) break;
      }
      return verifier.result();
    },

    async setRetention(ws: WorkspaceId, days: number) {
      await settings.updateOne(ws, { _id: ws }, { $set: { retentionDays: days } }, { upsert: true });
    },

    /**
     * Purges a workspace's entries appended more than its retention ago. Only a prefix of the
     * chain is purged (up to the first entry still to be kept), and the anchor (first kept
     * seq and the hash before it) is written BEFORE deleting, so the chain verifies from the
     * first surviving entry at every moment, even if the purge stops half way.
     * Returns how many entries were deleted.
     */
    async purge(ws: WorkspaceId): Promise<{ deleted: number; anchor: ChainAnchor | null }> {
      const own = await settings.findOne(ws, { _id: ws });
      const days = own?.retentionDays ?? deps.retentionDays;
      const cutoff = new Date(now().getTime() - days * 86_400_000);
      const [firstKept] = await entries.find(
        ws,
        { recordedAt: { $gte: cutoff } },
        { sort: { seq: 1 }, limit: 1, projection: { seq: 1 } },
      );
      const lastPurged = firstKept
        ? firstKept.seq - 1
        : ((await entries.find(ws, {}, { sort: { seq: -1 }, limit: 1, projection: { seq: 1 } }))[0]?.seq ??
          0);
      const current = await anchorOf(ws);
      if (lastPurged < current.firstSeq) return { deleted: 0, anchor: null };
      const boundary = await entries.findOne(ws, { page: pageOf(lastPurged), seq: lastPurged });
      if (!boundary) return { deleted: 0, anchor: null };
      const anchor = { firstSeq: lastPurged + 1, prevHash: boundary.hash };
      // Conditional: two sweepers (two instances) never move the anchor backwards.
      await anchors
        .updateOne(
          ws,
          { _id: ws, firstSeq: { $lt: anchor.firstSeq } },
          { $set: { ...anchor, purgedAt: now() } },
          { upsert: true },
        )
        .catch((error: unknown) => {
          // The upsert's insert collides when the anchor exists and is already further on.
          if (!isDuplicateKeyError(error)) throw error;
        });
      const deleted = await entries.deleteMany(ws, { seq: { $lte: lastPurged } });
      return { deleted, anchor };
    },

    /**
     * Every workspace with audit entries (for the sweeper): each has a head hint from its first
     * batch on, and that collection is one small document per workspace, unlike the entries.
     * A cross-tenant read of this service's own bookkeeping.
     */
    async workspaces(): Promise<string[]> {
      const rows = await globalRepository<AuditHeadDoc>(deps.db, 'audit_heads').find(
        {},
        { projection: { _id: 1 } },
      );
      return rows.map((r) => r._id);
    },
  };
}

export type AuditLog = ReturnType<typeof createAuditLog>;

import { randomUUID } from 'node:crypto';
import type { GlobalRepository } from '@wapi/store';

/** One Graph call's outcome as the ledger keeps it (inside an `outcomes` document). */
export interface LedgerOutcome {
  workspaceId: string;
  messageId: string;
  phoneNumberId: string;
  call: number;
  at: Date;
  status: 'sent' | 'failed' | 'retry';
  wamid?: string;
  errorCode?: number;
  errorTitle?: string;
}

/**
 * One appended ledger document: a claim before a Graph call (one per call: its `_id` is
 * what makes a second claim of the same call fail), or the outcomes recorded in one flush.
 */
export type LedgerDoc =
  | {
      /** `<workspaceId>:<messageId>:<call n>`. */
      _id: string;
      kind: 'claim';
      workspaceId: string;
      messageId: string;
      phoneNumberId: string;
      call: number;
      at: Date;
      /** Which flush wrote it: tells this flush's inserts from documents that were already there. */
      batch: string;
    }
  | {
      /** `outcomes:<flush id>`. */
      _id: string;
      kind: 'outcomes';
      at: Date;
      outcomes: LedgerOutcome[];
      batch: string;
    };
type ClaimDoc = Extract<LedgerDoc, { kind: 'claim' }>;

/**
 * Group commit of ledger writes: the claims and outcomes that arrive while the previous
 * write is on its way (or in one event-loop tick when none is; up to `maxBatch` claims) go
 * to the store in one `insertMany`, because on the embedded FerretDB
 * a batch of 100 costs about what 5 single inserts do (docs/performance.md). Claims are one
 * document each (a duplicate `_id` is a call claimed before); the outcomes of a flush are
 * ONE document (they are a record, nothing is looked up by them), which halves the
 * documents the driver builds per message.
 */
export function createLedgerBatcher(repo: GlobalRepository<LedgerDoc>, maxBatch = 500, maxInFlight = 4) {
  const claims: Array<{ doc: ClaimDoc; resolve: (inserted: boolean) => void; reject: (e: unknown) => void }> =
    [];
  let outcomes: LedgerOutcome[] = [];
  let waiters: Array<{ resolve: () => void; reject: (e: unknown) => void }> = [];
  let scheduled = false;
  let inFlight = 0;

  async function flush(): Promise<void> {
    scheduled = false;
    inFlight += 1;
    try {
      await write();
    } finally {
      inFlight -= 1;
      // What arrived while this write was on its way goes in the next one, now.
      if (claims.length > 0 || outcomes.length > 0) schedule();
    }
  }

  async function write(): Promise<void> {
    const items = claims.splice(0, maxBatch);
    const recorded = outcomes;
    const recordedWaiters = waiters;
    outcomes = [];
    waiters = [];
    if (items.length === 0 && recorded.length === 0) return;
    const batch = randomUUID();
    const docs: LedgerDoc[] = [];
    for (const item of items) {
      item.doc.batch = batch;
      docs.push(item.doc);
    }
    if (recorded.length > 0)
      docs.push({ _id: `outcomes:${batch}`, kind: 'outcomes', at: new Date(), outcomes: recorded, batch });
    try {
      const summary = await repo.insertMany(docs, { ignoreDuplicates: true });
      for (const w of recordedWaiters) w.resolve();
      if (summary.duplicates === 0) {
        for (const item of items) item.resolve(true);
        return;
      }
      // Rare (Redis lost the hot ledger): find which ones were there before this flush.
      const found = await repo.find({ _id: { $in: items.map((i) => i.doc._id) } } as never);
      const mine = new Set(found.filter((d) => d.batch === batch).map((d) => d._id));
      for (const item of items) item.resolve(mine.has(item.doc._id));
    } catch (error) {
      for (const item of items) item.reject(error);
      for (const w of recordedWaiters) w.reject(error);
    }
  }

  function schedule() {
    // While `maxInFlight` writes are on their way, new documents wait for one of them to
    // return and go together in the next: the batch grows with the load instead of a timer
    // (each write is a socket write; on loopback the kernel's share of one is several
    // times the driver's work, CPU profile in docs/performance.md). More than one in flight:
    // one slow write (a store busy with other work) must not hold every send behind it.
    if (scheduled || inFlight >= maxInFlight) return;
    scheduled = true;
    setImmediate(() => void flush());
  }

  return {
    /** Appends a claim; `true` when inserted by this call, `false` when its `_id` existed. */
    insert(doc: Omit<ClaimDoc, 'batch' | 'kind'>): Promise<boolean> {
      return new Promise((resolve, reject) => {
        claims.push({ doc: { ...doc, kind: 'claim', batch: '' }, resolve, reject });
        schedule();
      });
    },
    /** Appends an outcome to this tick's outcomes document; resolves once it is stored. */
    record(outcome: LedgerOutcome): Promise<void> {
      return new Promise((resolve, reject) => {
        outcomes.push(outcome);
        waiters.push({ resolve, reject });
        schedule();
      });
    },
  };
}
export type LedgerBatcher = ReturnType<typeof createLedgerBatcher>;

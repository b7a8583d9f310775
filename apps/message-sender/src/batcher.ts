import { randomUUID } from 'node:crypto';
import type { GlobalRepository } from '@wapi/store';

/** One appended ledger document: a claim before a Graph call, or the outcome after it. */
export interface LedgerDoc {
  /** `<workspaceId>:<messageId>:<call n>` (claim) or `…:<n>:outcome`. */
  _id: string;
  kind: 'claim' | 'outcome';
  workspaceId: string;
  messageId: string;
  phoneNumberId: string;
  call: number;
  at: Date;
  status?: 'sent' | 'failed' | 'retry';
  wamid?: string;
  errorCode?: number;
  errorTitle?: string;
  /** Which flush wrote it: tells this flush's inserts from documents that were already there. */
  batch: string;
}

/**
 * Group commit of ledger inserts: every `insert()` of one event-loop tick (up to `maxBatch`)
 * goes to the store in one `insertMany`, because on the embedded FerretDB a batch of 100
 * costs about what 5 single inserts do (docs/performance.md). Resolves `true` when the
 * document was inserted by this call, `false` when its `_id` already existed (already claimed).
 */
export function createLedgerBatcher(repo: GlobalRepository<LedgerDoc>, maxBatch = 500) {
  const pending: Array<{
    doc: LedgerDoc;
    resolve: (inserted: boolean) => void;
    reject: (e: unknown) => void;
  }> = [];
  let scheduled = false;

  async function flush(): Promise<void> {
    scheduled = false;
    const items = pending.splice(0, maxBatch);
    if (pending.length > 0) schedule();
    if (items.length === 0) return;
    const batch = randomUUID();
    for (const item of items) item.doc.batch = batch;
    try {
      const summary = await repo.insertMany(
        items.map((i) => i.doc),
        { ignoreDuplicates: true },
      );
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
    }
  }

  function schedule() {
    if (scheduled) return;
    scheduled = true;
    setImmediate(() => void flush());
  }

  return {
    insert(doc: Omit<LedgerDoc, 'batch'>): Promise<boolean> {
      return new Promise((resolve, reject) => {
        pending.push({ doc: { ...doc, batch: '' }, resolve, reject });
        if (pending.length >= maxBatch) void flush();
        else schedule();
      });
    },
  };
}
export type LedgerBatcher = ReturnType<typeof createLedgerBatcher>;

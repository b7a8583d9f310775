import { asWorkspaceId } from '@wapi/store';
import type { MessageOutbox } from './outbox';
import { type MessageDoc, type MessagingRepositories, withoutWorkspace } from './repositories';

/**
 * Group commit of accepted messages: waiting requests share one outbox mark, one
 * `insertMany` per workspace and one `addBulk`, so the send rate follows the store's
 * insertMany ceiling instead of its insertOne one.
 *
 * A flush starts on `setImmediate` (or at `maxSize`), never on a timer, so a lone request
 * waits for nothing (docs/performance.md: a fixed timer made things worse at low
 * concurrency). At most `maxInFlight` flushes run at once: under load the requests arriving
 * while those are written gather into the next one, so batches grow with the load instead of
 * turning into many small inserts (which cost FerretDB about as much as single ones).
 *
 * Only for messages whose `_id` is random: an Idempotency-Key send needs its own insert's
 * duplicate answer, so it keeps `insertOnce`.
 */
export function groupCommit(deps: {
  repos: MessagingRepositories;
  outbox: MessageOutbox;
  maxSize?: number;
  maxInFlight?: number;
}) {
  const maxSize = deps.maxSize ?? 500;
  const maxInFlight = deps.maxInFlight ?? 2;
  let pending: { doc: MessageDoc; resolve(enqueued: boolean): void; reject(error: unknown): void }[] = [];
  let scheduled = false;
  let inFlight = 0;

  async function write(batch: typeof pending): Promise<void> {
    const docs = batch.map((p) => p.doc);
    try {
      await deps.outbox.mark(docs);
      const byWorkspace = new Map<string, MessageDoc[]>();
      for (const d of docs) {
        const list = byWorkspace.get(d.workspaceId);
        if (list) list.push(d);
        else byWorkspace.set(d.workspaceId, [d]);
      }
      await Promise.all(
        [...byWorkspace].map(([ws, list]) =>
          deps.repos.messages.insertMany(asWorkspaceId(ws), list.map(withoutWorkspace)),
        ),
      );
      const enqueued = await deps.outbox.enqueue(docs);
      for (const p of batch) p.resolve(enqueued);
    } catch (error) {
      for (const p of batch) p.reject(error);
    }
  }

  /** Starts flushes while there is room and something waits; each finished one looks again. */
  function flush(): void {
    scheduled = false;
    while (inFlight < maxInFlight && pending.length > 0) {
      const batch = pending.slice(0, maxSize);
      pending = pending.slice(batch.length);
      inFlight += 1;
      void write(batch).finally(() => {
        inFlight -= 1;
        flush();
      });
    }
  }

  return {
    /** Stores and enqueues `doc` with the others waiting; true if it was enqueued (else the outbox has it). */
    commit(doc: MessageDoc): Promise<boolean> {
      return new Promise<boolean>((resolve, reject) => {
        pending.push({ doc, resolve, reject });
        if (pending.length >= maxSize) flush();
        else if (!scheduled) {
          scheduled = true;
          setImmediate(flush);
        }
      });
    },
  };
}
export type GroupCommit = ReturnType<typeof groupCommit>;

/** One caller waiting for its document's write. */
interface Waiter<D> {
  doc: D;
  /** `Date.now()` after which the caller gets `GroupCommitTimeout` instead of waiting on. */
  deadline: number;
  settled: boolean;
  resolve: () => void;
  reject: (e: unknown) => void;
}

/** The write holding a document was not acknowledged within the group commit's `timeoutMs`. */
export class GroupCommitTimeout extends Error {
  constructor(timeoutMs: number) {
    super(`write not acknowledged within ${timeoutMs} ms`);
    this.name = 'GroupCommitTimeout';
  }
}

/**
 * Group commit: callers `add()` one document and wait; documents gathered while a write is
 * in flight go out together in the next `insertMany`. A flush starts on `setImmediate` (never
 * on a fixed timer, which costs latency whenever fewer requests than a batch are in flight)
 * or at once when the batch is full; at most `maxInFlight` writes run at the same time, so
 * under load batches grow instead of writes queueing (docs/performance.md: an `insertMany` of
 * 100 costs about a tenth as much per document as `insertOne`).
 *
 * With `timeoutMs`, a caller whose document is not written within that time (still waiting
 * for a write slot, or in a write that hangs) is rejected with `GroupCommitTimeout`. The
 * deadlines are kept here, one timer per waiting queue and per write in flight, rather than
 * one timer and one extra promise per caller: on the webhook path that was a measurable share
 * of each request's CPU. A document whose caller timed out while its write was in flight may
 * still be written (the write's own outcome is not known); a document still waiting for a slot
 * is dropped.
 */
export class GroupCommit<D> {
  private pending: Waiter<D>[] = [];
  private scheduled = false;
  private inFlight = 0;
  private pendingTimer: NodeJS.Timeout | undefined;
  /** Batches written and documents in them, for the metrics. */
  batches = 0;
  documents = 0;

  constructor(
    private readonly write: (docs: D[]) => Promise<void>,
    private readonly batchMax: number,
    private readonly maxInFlight = 2,
    private readonly timeoutMs?: number,
  ) {}

  /** Resolves once `doc` is written (its batch acknowledged); rejects when the write fails or times out. */
  add(doc: D): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const deadline = this.timeoutMs === undefined ? 0 : Date.now() + this.timeoutMs;
      this.pending.push({ doc, deadline, settled: false, resolve, reject });
      if (this.timeoutMs !== undefined && this.pendingTimer === undefined) this.armPending();
      if (this.pending.length >= this.batchMax) this.flush();
      else if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => {
          this.scheduled = false;
          this.flush();
        });
      }
    });
  }

  /** One timer for the oldest waiter still without a write slot; expired waiters leave the queue. */
  private armPending(): void {
    const first = this.pending[0];
    if (!first) {
      this.pendingTimer = undefined;
      return;
    }
    this.pendingTimer = setTimeout(
      () => {
        const now = Date.now();
        let expired = 0;
        while (expired < this.pending.length && (this.pending[expired] as Waiter<D>).deadline <= now)
          expired++;
        for (const w of this.pending.splice(0, expired))
          this.settle(w, new GroupCommitTimeout(this.timeoutMs ?? 0));
        this.armPending();
      },
      Math.max(0, first.deadline - Date.now()),
    );
  }

  private settle(w: Waiter<D>, error?: unknown): void {
    if (w.settled) return;
    w.settled = true;
    if (error === undefined) w.resolve();
    else w.reject(error);
  }

  private flush(): void {
    while (this.pending.length > 0 && this.inFlight < this.maxInFlight) {
      const batch = this.pending.splice(0, this.batchMax);
      this.inFlight++;
      this.batches++;
      this.documents += batch.length;
      // Waiters are in arrival order, so deadlines ascend: one timer, re-armed for the next
      // deadline, expires them in turn while the write hangs.
      let timer: NodeJS.Timeout | undefined;
      let next = 0;
      const expire = () => {
        const now = Date.now();
        while (next < batch.length && (batch[next] as Waiter<D>).deadline <= now)
          this.settle(batch[next++] as Waiter<D>, new GroupCommitTimeout(this.timeoutMs ?? 0));
        timer =
          next < batch.length
            ? setTimeout(expire, Math.max(0, (batch[next] as Waiter<D>).deadline - now))
            : undefined;
      };
      if (this.timeoutMs !== undefined) expire();
      const docs = new Array<D>(batch.length);
      for (let i = 0; i < batch.length; i++) docs[i] = (batch[i] as Waiter<D>).doc;
      this.write(docs)
        .then(
          () => {
            for (const w of batch) this.settle(w);
          },
          (error: unknown) => {
            for (const w of batch) this.settle(w, error);
          },
        )
        .finally(() => {
          clearTimeout(timer);
          this.inFlight--;
          this.flush();
        });
    }
    if (this.pending.length === 0 && this.pendingTimer !== undefined) {
      clearTimeout(this.pendingTimer);
      this.pendingTimer = undefined;
    }
  }
}

import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { QUEUES, type QueueName, queuePrefix } from '@wapi/contracts';
import type { InternalAuth } from '@wapi/service-kit';
import { type GlobalRepository, globalRepository, isDuplicateKeyError } from '@wapi/store';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Db } from 'mongodb';
import type { Logger } from 'pino';
import type { Config } from './config';
import { GroupCommit } from './group-commit';
import { type Counters, type DoneDoc, type JournalDoc, Processor, type QuarantineDoc } from './processor';

/** What the live path hands journaled entries to: in this thread, or a worker thread. */
export interface LiveProcessor {
  /** Journal ids queued or being processed (a re-drive skips them; the lag metric counts them). */
  readonly active: Set<string>;
  enqueue(docs: JournalDoc[]): void;
  /** Resolves when nothing is queued or running. */
  idle(): Promise<void>;
  /** Stops after `idle()`; releases what the processor opened for itself. */
  close(): Promise<void>;
}

/**
 * A processor with everything it writes to: BullMQ producers (opened on first use), the done
 * marks' group commit, the quarantine. Used by the app's thread and by the worker thread.
 */
export function buildProcessor(opts: {
  config: Config;
  redis: Redis;
  db: Db;
  log: Logger;
  counters: Counters;
  auth?: InternalAuth;
  onSettled?: (ids: string[]) => void;
}): { processor: Processor; closeQueues: () => Promise<void> } {
  const { config, redis, db, log } = opts;
  const doneRepo = globalRepository<DoneDoc>(db, 'webhook_done');
  // Ordered first (one statement on FerretDB); only a batch holding a duplicate (a re-drive)
  // is written again unordered, skipping the duplicates.
  const appendAll = async (repo: GlobalRepository<DoneDoc>, docs: DoneDoc[]) => {
    try {
      await repo.insertMany(docs);
    } catch (error) {
      if (!isDuplicateKeyError(error)) throw error;
      await repo.insertMany(docs, { ignoreDuplicates: true });
    }
  };
  const done = new GroupCommit<DoneDoc>((docs) => appendAll(doneRepo, docs), 500);
  // Opened on first use: an instance that never processes anything holds no queue.
  const opened = new Map<QueueName, Queue>();
  const queues = (name: QueueName): Queue => {
    let queue = opened.get(name);
    if (!queue) {
      queue = new Queue(name, {
        connection: redis,
        prefix: queuePrefix(config.KEY_PREFIX, name),
        defaultJobOptions: { ...QUEUES[name].defaults },
      });
      queue.on('error', (err) => log.error({ queue: name, err }, 'queue error'));
      opened.set(name, queue);
    }
    return queue;
  };
  const processor = new Processor({
    redis,
    prefix: config.KEY_PREFIX,
    log,
    queues,
    journal: globalRepository<JournalDoc>(db, 'webhook_journal'),
    done,
    doneRepo,
    quarantine: globalRepository<QuarantineDoc>(db, 'webhook_quarantine'),
    counters: opts.counters,
    ...(config.GATEWAY_URL && opts.auth
      ? { gateway: { url: config.GATEWAY_URL.replace(/\/$/, ''), auth: opts.auth } }
      : {}),
    ...(opts.onSettled ? { onSettled: opts.onSettled } : {}),
  });
  return {
    processor,
    closeQueues: async () => {
      await Promise.all([...opened.values()].map((q) => q.close()));
    },
  };
}

/** Worker thread → app thread. */
export type WorkerMessage =
  | {
      type: 'settled';
      ids: string[];
      counters: Pick<Counters, 'processed' | 'items' | 'duplicates' | 'quarantined'>;
    }
  | { type: 'closed' };

/** App thread → worker thread. */
export type HostMessage = { type: 'batch'; docs: JournalDoc[] } | { type: 'close' };

/**
 * Processing in a worker thread (`PROCESSOR_THREAD=true`): the acknowledgement path (verify,
 * journal, 200) keeps this event loop to itself and processing gets a second one, so one
 * process can use two cores. The worker opens its own Redis and database connections from
 * the config. Its counters come back with every settled batch; an entry whose processing
 * failed, or which was in the worker when it died, stays unmarked in the journal and the
 * re-drive takes it (a dead worker is started again).
 */
export class ThreadProcessor implements LiveProcessor {
  readonly active = new Set<string>();
  private worker: Worker;
  private idleWaiters: (() => void)[] = [];
  private closing = false;
  /** False between a thread's death and its restart: entries then wait for the re-drive. */
  private alive = false;

  constructor(
    private readonly entry: URL,
    private readonly config: Config,
    private readonly counters: Counters,
    private readonly log: Logger,
  ) {
    if (!existsSync(fileURLToPath(entry)))
      throw new Error(
        `webhook-ingest: the processor thread's entry ${fileURLToPath(entry)} is missing; build the service (pnpm --filter @wapi/webhook-ingest build) or set PROCESSOR_THREAD=false`,
      );
    this.worker = this.start();
  }

  private start(): Worker {
    const worker = new Worker(this.entry, { workerData: { config: this.config } });
    this.alive = true;
    worker.on('message', (message: WorkerMessage) => {
      if (message.type !== 'settled') return;
      for (const id of message.ids) this.active.delete(id);
      const c = message.counters;
      this.counters.processed += c.processed;
      this.counters.items += c.items;
      this.counters.duplicates += c.duplicates;
      for (const [reason, n] of Object.entries(c.quarantined))
        this.counters.quarantined[reason] = (this.counters.quarantined[reason] ?? 0) + n;
      this.wakeIfIdle();
    });
    worker.on('error', (err) => this.log.error({ err }, 'webhook processor thread failed'));
    worker.on('exit', (code) => {
      // What it held is left unmarked in the journal: the re-drive processes it.
      this.alive = false;
      this.active.clear();
      this.wakeIfIdle();
      if (this.closing) return;
      this.log.error(
        { code },
        'webhook processor thread exited; starting it again in 1 s (the re-drive takes what it held)',
      );
      // Not at once: a thread that dies on start would otherwise spin.
      setTimeout(() => {
        if (!this.closing) this.worker = this.start();
      }, 1_000).unref();
    });
    return worker;
  }

  private wakeIfIdle(): void {
    if (this.active.size === 0) for (const w of this.idleWaiters.splice(0)) w();
  }

  enqueue(docs: JournalDoc[]): void {
    // Not marked active while no thread runs, so the re-drive is free to take them later.
    if (!this.alive) return;
    const fresh = docs.filter((d) => !this.active.has(d._id));
    if (fresh.length === 0) return;
    for (const d of fresh) this.active.add(d._id);
    this.worker.postMessage({ type: 'batch', docs: fresh } satisfies HostMessage);
  }

  idle(): Promise<void> {
    if (this.active.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  async close(): Promise<void> {
    this.closing = true;
    const worker = this.worker;
    const closed = new Promise<void>((resolve) => {
      worker.once('exit', () => resolve());
      worker.on('message', (m: WorkerMessage) => {
        if (m.type === 'closed') void worker.terminate();
      });
    });
    worker.postMessage({ type: 'close' } satisfies HostMessage);
    // Bounded: a worker stuck on a dead dependency is terminated (its entries are re-driven).
    const timer = setTimeout(() => void worker.terminate(), 5_000);
    await closed;
    clearTimeout(timer);
  }
}

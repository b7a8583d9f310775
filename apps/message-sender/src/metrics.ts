import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** The priorities the queue-depth gauge reports (see contracts' `sendPriorityOf`; 0 = none set). */
export const REPORTED_PRIORITIES = [0, 1, 2, 3] as const;

/** What the depth gauge reads from the queue on each scrape. */
export interface QueueCounts {
  /** Waiting jobs by BullMQ priority (0: enqueued without one). */
  byPriority(): Promise<Record<number, number>>;
  /** Delayed jobs (waiting for their pacing slot, a retry or a settlement). */
  delayed(): Promise<number>;
}

/**
 * The sender's metrics, registered on the app's `/metrics` registry (`app.metrics`).
 * Queue depth is read from Redis when scraped (`queue` given), never on the send path.
 */
export function createSenderMetrics(registry: Registry, queue?: QueueCounts) {
  const registers = [registry];
  const metrics = {
    /** Graph calls and refusals by outcome (`sent`, `failed`, `refused`, `rate_limited`, `retry`, `auth_retry`, `settled`) and Meta code (or wapi's code for refusals). */
    sends: new Counter({
      name: 'sender_sends_total',
      help: 'Sends by outcome and Meta error code (0 when none; wapi code for refusals)',
      labelNames: ['outcome', 'code'] as const,
      registers,
    }),
    /** Jobs delayed by our own pacing, by the limit that held them. */
    waits: new Counter({
      name: 'sender_pacing_waits_total',
      help: 'Jobs delayed by pacing, by reason (throughput, marketing_share, messaging_limit, sliding_window)',
      labelNames: ['reason'] as const,
      registers,
    }),
    parked: new Counter({
      name: 'sender_parked_total',
      help: 'Waiting jobs of a backlogged number moved to the delayed set in bulk, with their slots, by lane (marketing, other)',
      labelNames: ['lane'] as const,
      registers,
    }),
    graphLatency: new Histogram({
      name: 'sender_graph_latency_seconds',
      help: 'Graph send call latency',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    /** Age of a message when its Graph call leaves: queueing plus pacing, by category. */
    queueWait: new Histogram({
      name: 'sender_queue_age_seconds',
      help: 'Time from enqueue to the Graph call, by category (the age of what is sent)',
      labelNames: ['category'] as const,
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600],
      registers,
    }),
  };
  if (queue) {
    new Gauge({
      name: 'sender_queue_depth',
      help: 'message.send.v1 jobs waiting, by priority (0: none set); state=delayed: waiting for their pacing slot or a retry',
      labelNames: ['state', 'priority'] as const,
      registers,
      async collect() {
        const [byPriority, delayed] = await Promise.all([queue.byPriority(), queue.delayed()]);
        for (const [priority, count] of Object.entries(byPriority))
          this.set({ state: 'waiting', priority }, count);
        this.set({ state: 'delayed', priority: 'any' }, delayed);
      },
    });
  }
  return metrics;
}
export type SenderMetrics = ReturnType<typeof createSenderMetrics>;

/** How many sends ended with `outcome` and `code` (tests and the bench read it). */
export async function countOf(
  metrics: SenderMetrics,
  outcome: string,
  code?: number | string,
): Promise<number> {
  const { values } = await metrics.sends.get();
  return values
    .filter((v) => v.labels.outcome === outcome && (code === undefined || v.labels.code === String(code)))
    .reduce((sum, v) => sum + v.value, 0);
}

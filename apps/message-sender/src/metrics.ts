import { Counter, Histogram, Registry } from 'prom-client';

/**
 * The sender's own metrics, in a registry of its own (service-kit's `/metrics` registry is
 * not reachable from an app yet; see the README).
 */
export function createSenderMetrics() {
  const registry = new Registry();
  return {
    registry,
    /** Graph calls and refusals by outcome (`sent`, `failed`, `refused`, `rate_limited`, `retry`) and Meta code. */
    sends: new Counter({
      name: 'sender_sends_total',
      help: 'Sends by outcome and Meta error code (0 when none)',
      labelNames: ['outcome', 'code'] as const,
      registers: [registry],
    }),
    /** Jobs delayed by our own pacing, by the limit that held them. */
    waits: new Counter({
      name: 'sender_pacing_waits_total',
      help: 'Jobs delayed by pacing',
      registers: [registry],
    }),
    graphLatency: new Histogram({
      name: 'sender_graph_latency_seconds',
      help: 'Graph send call latency',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
  };
}
export type SenderMetrics = ReturnType<typeof createSenderMetrics>;

/** How many sends ended with `outcome` and Meta `code` (tests and the bench read it). */
export async function countOf(metrics: SenderMetrics, outcome: string, code?: number): Promise<number> {
  const { values } = await metrics.sends.get();
  return values
    .filter((v) => v.labels.outcome === outcome && (code === undefined || v.labels.code === String(code)))
    .reduce((sum, v) => sum + v.value, 0);
}

import { Counter, Gauge, type Registry } from 'prom-client';
import type { Counters } from './processor';

/** What the metrics read at scrape time (plain numbers: the request path only increments fields). */
export interface MetricSources {
  counters: Counters;
  journalBatches(): number;
  /** Journal ids processed here and not finished yet. */
  active(): Iterable<string>;
  appSecrets(): number;
  now?: () => number;
}

/** Milliseconds since the epoch encoded in a journal id (`j` + 9 base-36 digits, see app.ts). */
export function journalIdTime(id: string): number {
  return Number.parseInt(id.slice(1, 10), 36);
}

/**
 * Registers webhook-ingest's metrics on the service's `/metrics` registry. The request path
 * and the processor count into a plain object (an increment, no label hashing per webhook);
 * the Prometheus values are read from it at scrape time.
 */
export function registerIngestMetrics(registry: Registry, sources: MetricSources): void {
  const { counters } = sources;
  const now = sources.now ?? Date.now;
  const total = (name: string, help: string, read: () => number) =>
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(read());
      },
    });
  const byReason = (name: string, help: string, read: () => Record<string, number>) =>
    new Counter({
      name,
      help,
      labelNames: ['reason'] as const,
      registers: [registry],
      collect() {
        this.reset();
        for (const [reason, n] of Object.entries(read())) this.inc({ reason }, n);
      },
    });
  total('webhook_received_total', 'POSTs received on /api/v1/webhook', () => counters.received);
  byReason('webhook_rejected_total', 'POSTs refused by signature problem', () => counters.rejected);
  total(
    'webhook_journaled_total',
    'verified bodies written to the journal (answered 200)',
    () => counters.journaled,
  );
  total(
    'webhook_journal_failures_total',
    'bodies whose journal write failed or timed out (answered 503)',
    () => counters.journalFailures,
  );
  total('webhook_journal_batches_total', 'journal insertMany batches', sources.journalBatches);
  total('webhook_processed_total', 'journal entries fully processed', () => counters.processed);
  total(
    'webhook_items_emitted_total',
    'items (messages, statuses, ...) emitted to queues',
    () => counters.items,
  );
  total('webhook_duplicates_total', 'items dropped as already emitted', () => counters.duplicates);
  byReason('webhook_quarantined_total', 'items or bodies quarantined, by reason', () => counters.quarantined);
  total('webhook_redriven_total', 'journal entries and quarantined items re-driven', () => counters.redriven);
  new Gauge({
    name: 'webhook_journal_lag_entries',
    help: 'entries journaled by this instance and not yet processed',
    registers: [registry],
    collect() {
      let n = 0;
      for (const _ of sources.active()) n++;
      this.set(n);
    },
  });
  new Gauge({
    name: 'webhook_journal_lag_seconds',
    help: 'age of the oldest entry journaled by this instance and not yet processed (0 when none)',
    registers: [registry],
    collect() {
      let oldest = Number.POSITIVE_INFINITY;
      for (const id of sources.active()) {
        const t = journalIdTime(id);
        if (Number.isFinite(t)) oldest = Math.min(oldest, t);
      }
      this.set(Number.isFinite(oldest) ? Math.max(0, (now() - oldest) / 1000) : 0);
    },
  });
  new Gauge({
    name: 'webhook_app_secrets',
    help: 'Meta app secrets active for signature checks',
    registers: [registry],
    collect() {
      this.set(sources.appSecrets());
    },
  });
  total(
    'webhook_app_secret_refresh_failures_total',
    'app secret refreshes from vault that failed (the last good set stayed active)',
    () => counters.secretRefreshFailures,
  );
}

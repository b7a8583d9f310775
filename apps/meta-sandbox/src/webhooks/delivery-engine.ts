import { randomInt } from 'node:crypto';
import { metaJsonEncode } from '@wapi/contracts';
import type { Faults } from '../domain/faults';
import { atLeast } from '../domain/timers';
import { batchEnvelope, type PendingChange, type WebhookEncoding } from './batching';
import { signBody } from './signature';

/** Where one app receives webhooks; signatures are keyed per app (§3.2, §11). */
export interface WebhookTarget {
  url: string;
  appId: string;
  secret: string;
}

export { type Faults, NO_FAULTS } from '../domain/faults';

export interface DeliveryOptions {
  timeoutMs: number;
  retryBaseMs: number;
  horizonMs: number;
  batchMax: number;
  /** Changes queued within this window share POSTs; 0 = those of one event-loop tick (§3.6). */
  batchWindowMs: number;
  concurrency: number;
  /** `meta`: Meta's `\uXXXX` / `\/` escaping (docs/meta-platform.md §3.2); `utf8`: raw UTF-8. */
  encoding: WebhookEncoding;
  now: () => number;
  random: () => number;
  faults: () => Faults;
  onGiveUp?: (record: DeliveryRecord) => void;
}

export interface DeliveryRecord {
  id: number;
  url: string;
  appId: string;
  /** The exact bytes signed and sent on every attempt, retries and duplicates included (§3.6). */
  body: Buffer;
  signature: string;
  changes: number;
  attempts: number;
  firstAttemptAt: number | undefined;
  state: 'queued' | 'in-flight' | 'waiting-retry' | 'delivered' | 'given-up';
  lastResult: string | undefined;
  duplicatesSent: number;
}

/** Sendable changes of one receiver; `start` is the first not yet cut into a POST. */
interface Outbox {
  target: WebhookTarget;
  pending: PendingChange[];
  start: number;
  /** Shuffled since the last changes arrived (reorder fault). */
  shuffled: boolean;
}

export interface DeliveryEngine {
  enqueue(target: WebhookTarget, wabaId: string, field: string, value: Record<string, unknown>): void;
  /** GET verification handshake (§3.1): true when the receiver echoes the challenge with 200. */
  verify(url: string, verifyToken: string): Promise<boolean>;
  stats(): DeliveryStats;
  /** Most recent deliveries, newest last (bounded). */
  recent(limit: number): DeliveryRecord[];
  /** True when nothing is queued, in flight or waiting for a retry. */
  idle(): boolean;
  reset(): void;
  close(): void;
}

export interface DeliveryStats {
  posts: number;
  delivered: number;
  failedAttempts: number;
  duplicates: number;
  givenUp: number;
  queuedChanges: number;
  inFlight: number;
  waitingRetry: number;
}

const KEEP_RECORDS = 2_000;

export function createDeliveryEngine(options: DeliveryOptions): DeliveryEngine {
  /** Changes collecting in the current batch window, per receiver (app × URL). */
  const queues = new Map<string, { target: WebhookTarget; pending: PendingChange[] }>();
  /** Changes whose window closed, waiting for a free slot, per receiver. */
  const outbox = new Map<string, Outbox>();
  const ready: Array<{ record: DeliveryRecord; duplicate: boolean }> = [];
  const timers = new Set<NodeJS.Timeout>();
  const records: DeliveryRecord[] = [];
  let flushScheduled = false;
  let inFlight = 0;
  let waitingRetry = 0;
  let delayed = 0;
  let nextId = 1;
  let closed = false;
  const stats = { posts: 0, delivered: 0, failedAttempts: 0, duplicates: 0, givenUp: 0 };

  function later(ms: number, fn: () => void): void {
    atLeast(timers, ms, () => {
      if (!closed) fn();
    });
  }

  function shuffle<T>(items: T[]): void {
    for (let i = items.length - 1; i > 0; i--) {
      const j = Math.floor(options.random() * (i + 1));
      [items[i], items[j]] = [items[j] as T, items[i] as T];
    }
  }

  /** Builds the next POST of `box`: up to `batchMax` of its waiting changes, encoded and signed. */
  function cut(box: Outbox): DeliveryRecord {
    if (options.faults().reorder && !box.shuffled) {
      const rest = box.pending.slice(box.start);
      shuffle(rest);
      box.pending = rest;
      box.start = 0;
      box.shuffled = true;
    }
    const changes = box.pending.slice(box.start, box.start + options.batchMax);
    box.start += changes.length;
    if (box.start > 1_024 && box.start * 2 > box.pending.length) {
      box.pending = box.pending.slice(box.start);
      box.start = 0;
    }
    const envelope = batchEnvelope(changes);
    // The signature is computed over exactly these bytes, sent unchanged on every attempt.
    const body = Buffer.from(
      options.encoding === 'meta' ? metaJsonEncode(envelope) : JSON.stringify(envelope),
      'utf8',
    );
    const record: DeliveryRecord = {
      id: nextId++,
      url: box.target.url,
      appId: box.target.appId,
      body,
      signature: signBody(box.target.secret, body),
      changes: changes.length,
      attempts: 0,
      firstAttemptAt: undefined,
      state: 'queued',
      lastResult: undefined,
      duplicatesSent: 0,
    };
    records.push(record);
    if (records.length > KEEP_RECORDS) records.shift();
    return record;
  }

  /**
   * The batch window closed: its changes become sendable. POSTs are cut from them only when a
   * slot is free (see {@link pump}), so while receivers are busy changes keep accumulating and
   * POSTs grow towards `batchMax` — Meta batches more under load too (§3.6) — instead of the
   * sandbox spending its CPU on many small POSTs.
   */
  function flush(): void {
    flushScheduled = false;
    const faults = options.faults();
    for (const [key, queue] of queues) {
      queues.delete(key);
      let box = outbox.get(key);
      if (!box) {
        box = { target: queue.target, pending: [], start: 0, shuffled: false };
        outbox.set(key, box);
      }
      for (const change of queue.pending) box.pending.push(change);
      box.shuffled = false;
      if (faults.delayMs > 0) {
        // Delay fault: cut now, hold each POST back before its first attempt.
        outbox.delete(key);
        while (box.start < box.pending.length) {
          const record = cut(box);
          delayed++;
          later(faults.delayMs + Math.floor(options.random() * faults.delayMs), () => {
            delayed--;
            ready.push({ record, duplicate: false });
            pump();
          });
        }
      }
    }
    pump();
  }

  function pump(): void {
    while (!closed && inFlight < options.concurrency) {
      const next = ready.shift();
      if (next) {
        void attempt(next.record, next.duplicate);
        continue;
      }
      const first = outbox.entries().next();
      if (first.done) break;
      const [key, box] = first.value;
      const record = cut(box);
      // Round robin between receivers: a box with more to send goes to the back.
      outbox.delete(key);
      if (box.start < box.pending.length) outbox.set(key, box);
      void attempt(record, false);
    }
  }

  /** Retry schedule (§3.6, exact schedule unconfirmed): immediately, then base × 2^(n-2), within the horizon. */
  function retryDelay(attempts: number): number {
    return attempts <= 1 ? 0 : options.retryBaseMs * 2 ** (attempts - 2);
  }

  async function attempt(record: DeliveryRecord, duplicate: boolean): Promise<void> {
    inFlight++;
    if (!duplicate) {
      record.attempts++;
      record.state = 'in-flight';
      record.firstAttemptAt ??= options.now();
    }
    stats.posts++;
    let ok = false;
    try {
      const response = await fetch(record.url, {
        method: 'POST',
        body: record.body,
        headers: {
          'content-type': 'application/json',
          'x-hub-signature-256': record.signature,
          'user-agent': 'facebookexternalua',
        },
        signal: AbortSignal.timeout(options.timeoutMs),
      });
      await response.arrayBuffer();
      ok = response.status >= 200 && response.status < 300;
      if (!duplicate) record.lastResult = String(response.status);
    } catch (error) {
      if (!duplicate) record.lastResult = error instanceof Error ? error.name : 'error';
    }
    inFlight--;
    if (duplicate || closed) {
      pump();
      return;
    }
    if (ok) {
      record.state = 'delivered';
      stats.delivered++;
      // Duplicate delivery fault: the same bytes again, as Meta's retries to several apps do (§3.6).
      if (options.random() < options.faults().duplicateRate) {
        stats.duplicates++;
        record.duplicatesSent++;
        ready.push({ record, duplicate: true });
      }
    } else {
      stats.failedAttempts++;
      const delay = retryDelay(record.attempts);
      if (options.now() + delay - (record.firstAttemptAt ?? 0) > options.horizonMs) {
        record.state = 'given-up';
        stats.givenUp++;
        options.onGiveUp?.(record);
      } else {
        record.state = 'waiting-retry';
        waitingRetry++;
        later(delay, () => {
          waitingRetry--;
          ready.push({ record, duplicate: false });
          pump();
        });
      }
    }
    pump();
  }

  return {
    enqueue(target, wabaId, field, value) {
      if (closed) return;
      const key = `${target.appId} ${target.url}`;
      let queue = queues.get(key);
      if (!queue) {
        queue = { target, pending: [] };
        queues.set(key, queue);
      }
      queue.pending.push({ wabaId, field, value, at: options.now() });
      // Changes produced in the same tick (or batch window) share POSTs (batching, §3.6), so a
      // POST can mix statuses and messages.
      if (!flushScheduled) {
        flushScheduled = true;
        if (options.batchWindowMs > 0) later(options.batchWindowMs, flush);
        else setImmediate(flush);
      }
    },
    async verify(url, verifyToken) {
      const challenge = String(randomInt(1, 2 ** 31 - 1));
      const target = new URL(url);
      target.searchParams.set('hub.mode', 'subscribe');
      target.searchParams.set('hub.challenge', challenge);
      target.searchParams.set('hub.verify_token', verifyToken);
      try {
        const response = await fetch(target, { signal: AbortSignal.timeout(options.timeoutMs) });
        return response.status === 200 && (await response.text()) === challenge;
      } catch {
        return false;
      }
    },
    stats() {
      let queuedChanges = ready.length + delayed;
      for (const q of queues.values()) queuedChanges += q.pending.length;
      for (const box of outbox.values()) queuedChanges += box.pending.length - box.start;
      return { ...stats, queuedChanges, inFlight, waitingRetry };
    },
    recent(limit) {
      return records.slice(-limit);
    },
    idle() {
      return (
        queues.size === 0 &&
        outbox.size === 0 &&
        ready.length === 0 &&
        inFlight === 0 &&
        waitingRetry === 0 &&
        delayed === 0
      );
    },
    reset() {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      queues.clear();
      outbox.clear();
      flushScheduled = false;
      ready.length = 0;
      records.length = 0;
      waitingRetry = 0;
      delayed = 0;
      Object.assign(stats, { posts: 0, delivered: 0, failedAttempts: 0, duplicates: 0, givenUp: 0 });
    },
    close() {
      closed = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
    },
  };
}

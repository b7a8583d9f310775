import { Value } from '@sinclair/typebox/value';
import {
  DirectoryEntry,
  directoryKey,
  keyOf,
  QUEUES,
  type QueueName,
  type QueuePayload,
  WebhookEnvelope,
  windowKey,
} from '@wapi/contracts';
import { type InternalAuth, jobIdOf } from '@wapi/service-kit';
import type { GlobalRepository } from '@wapi/store';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { isStopPromotionsButton, projectContent } from './content';
import type { GroupCommit } from './group-commit';

/** One verified webhook body as the journal holds it (the raw bytes, as UTF-8 text). */
export interface JournalDoc {
  _id: string;
  receivedAt: Date;
  body: string;
  expiresAt: Date;
}

/** A journal entry fully processed (appended, never an update: FerretDB updates scan). */
export interface DoneDoc {
  _id: string;
  receivedAt: Date;
  expiresAt: Date;
}

/** An item already emitted: the record behind the Redis dedupe keys (rebuilt from it). */
export interface SeenDoc {
  _id: string;
  journalId: string;
  expiresAt: Date;
}

export type QuarantineReason = 'not_json' | 'not_envelope' | 'unknown_number' | 'invalid_item';

/** Something set aside for an operator or a later re-drive. */
export interface QuarantineDoc {
  _id: string;
  journalId: string;
  reason: QuarantineReason;
  phoneNumberId?: string;
  detail?: string;
  at: Date;
  expiresAt: Date;
}

/** How long dedupe keys and journal entries live: beyond Meta's 7-day retry horizon. */
export const RETENTION_MS = 8 * 24 * 3600 * 1000;
const WINDOW_MS = 24 * 3600 * 1000;

export interface Counters {
  received: number;
  rejected: Record<string, number>;
  journaled: number;
  journalFailures: number;
  processed: number;
  items: number;
  duplicates: number;
  quarantined: Record<string, number>;
  redriven: number;
}

export function newCounters(): Counters {
  return {
    received: 0,
    rejected: {},
    journaled: 0,
    journalFailures: 0,
    processed: 0,
    items: 0,
    duplicates: 0,
    quarantined: {},
    redriven: 0,
  };
}

/** The BullMQ queue of each output (opened by the caller, with the registry's defaults). */
type Producers = (name: QueueName) => Queue;

export interface ProcessorDeps {
  redis: Redis;
  prefix: string;
  log: Logger;
  queues: Producers;
  journal: GlobalRepository<JournalDoc>;
  done: GroupCommit<DoneDoc>;
  seen: GroupCommit<SeenDoc>;
  seenRepo: GlobalRepository<SeenDoc>;
  quarantine: GlobalRepository<QuarantineDoc>;
  counters: Counters;
  gateway?: { url: string; auth: InternalAuth };
  now?: () => number;
}

type Job = { queue: QueueName; jobId: string; payload: unknown };
type Item = { key: string; ws: string; jobs: Job[]; window?: { pnid: string; waId: string; until: number } };

const WINDOW_SCRIPT = `
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
local v = tonumber(ARGV[1])
if v > cur and v > tonumber(ARGV[2]) then
  redis.call('SET', KEYS[1], ARGV[1])
  redis.call('PEXPIREAT', KEYS[1], ARGV[1])
end
return 1`;

const rec = (v: unknown): Record<string, unknown> =>
  v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const iso = (unixSeconds: unknown, fallback: number) => {
  const n = Number(unixSeconds);
  return new Date(Number.isFinite(n) && n > 0 ? n * 1000 : fallback).toISOString();
};

/**
 * Splits journal entries into every entry × change × message/status/error/preference, routes
 * each change by `metadata.phone_number_id` (fail closed: unknown → quarantine), drops items
 * already emitted (Redis `SET NX` holding the journal id that claimed it, so a re-drive of the
 * same entry re-emits with the same job ids instead of losing it), and emits the jobs. Only
 * after every job is queued is the entry marked done; anything failing before that is
 * re-driven from the journal.
 */
export class Processor {
  private readonly queue: JournalDoc[] = [];
  /** Journal ids queued or being processed here (a re-drive skips them). */
  readonly active = new Set<string>();
  private running = 0;
  private idleWaiters: (() => void)[] = [];
  private readonly now: () => number;

  constructor(private readonly deps: ProcessorDeps) {
    this.now = deps.now ?? Date.now;
  }

  /** Hands journaled entries to processing (live path and re-drive). */
  enqueue(docs: JournalDoc[]): void {
    for (const doc of docs) {
      if (this.active.has(doc._id)) continue;
      this.active.add(doc._id);
      this.queue.push(doc);
    }
    this.pump();
  }

  /** Resolves when nothing is queued or running (tests and shutdown). */
  idle(): Promise<void> {
    if (this.queue.length === 0 && this.running === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private pump(): void {
    while (this.queue.length > 0 && this.running < 2) {
      const batch = this.queue.splice(0, 200);
      this.running++;
      this.processBatch(batch)
        .catch((err: unknown) => {
          // Left unmarked in the journal: the re-drive takes it again.
          this.deps.log.error(
            { err, entries: batch.length },
            'webhook processing failed; the re-drive retries it',
          );
        })
        .finally(() => {
          for (const d of batch) this.active.delete(d._id);
          this.running--;
          this.pump();
          if (this.queue.length === 0 && this.running === 0) {
            for (const w of this.idleWaiters.splice(0)) w();
          }
        });
    }
  }

  /** Processes entries; with `onlyPhoneNumberId`, only that number's changes (a quarantine re-drive). */
  async processBatch(docs: JournalDoc[], onlyPhoneNumberId?: string): Promise<void> {
    const { deps } = this;
    const quarantined: QuarantineDoc[] = [];
    const parsed: { doc: JournalDoc; env: WebhookEnvelope }[] = [];
    for (const doc of docs) {
      let value: unknown;
      try {
        value = JSON.parse(doc.body);
      } catch {
        quarantined.push(this.quarantineDoc(doc._id, 'not_json'));
        continue;
      }
      if (!Value.Check(WebhookEnvelope, value)) {
        quarantined.push(this.quarantineDoc(doc._id, 'not_envelope'));
        continue;
      }
      parsed.push({ doc, env: value });
    }

    // Route every change's number in one round trip (plus gateway on a miss).
    const numbers = new Set<string>();
    for (const { env } of parsed)
      for (const e of env.entry)
        for (const c of e.changes) {
          const pnid = rec(rec(c.value).metadata).phone_number_id;
          if (typeof pnid === 'string') numbers.add(pnid);
        }
    const directory = await this.resolve([...numbers]);

    const items: Item[] = [];
    for (const { doc, env } of parsed) {
      const unknown = new Set<string>();
      for (const entry of env.entry) {
        for (const change of entry.changes) {
          const value = rec(change.value);
          const pnid = rec(value.metadata).phone_number_id;
          if (typeof pnid !== 'string') continue; // template/quality/account fields: not routed yet
          if (onlyPhoneNumberId !== undefined && pnid !== onlyPhoneNumberId) continue;
          const route = directory.get(pnid);
          if (!route) {
            unknown.add(pnid);
            continue;
          }
          this.splitChange(doc, change.field, value, route, items);
        }
      }
      for (const pnid of unknown) quarantined.push(this.quarantineDoc(doc._id, 'unknown_number', pnid));
    }

    // Validate before claiming anything: a bad item is quarantined, the rest go on.
    const valid: Item[] = [];
    for (const item of items) {
      const bad = item.jobs.find((j) => !Value.Check(QUEUES[j.queue].payload, j.payload));
      if (bad) {
        const journalId = item.key.split('|')[1] ?? '';
        quarantined.push(
          this.quarantineDoc(journalId, 'invalid_item', undefined, `${bad.queue} ${item.key}`),
        );
      } else valid.push(item);
    }

    const fresh = await this.claim(valid);
    deps.counters.duplicates += valid.length - fresh.length;
    await this.emit(fresh);
    if (quarantined.length) {
      await deps.quarantine.insertMany(quarantined, { ignoreDuplicates: true });
      for (const q of quarantined)
        deps.counters.quarantined[q.reason] = (deps.counters.quarantined[q.reason] ?? 0) + 1;
    }
    const expiresAt = new Date(this.now() + RETENTION_MS);
    await Promise.all([
      ...fresh.map((i) =>
        deps.seen.add({
          _id: i.key.split('|')[0] as string,
          journalId: i.key.split('|')[1] as string,
          expiresAt,
        }),
      ),
      ...(onlyPhoneNumberId === undefined
        ? docs.map((d) => deps.done.add({ _id: d._id, receivedAt: d.receivedAt, expiresAt }))
        : []),
    ]);
    deps.counters.items += fresh.length;
    if (onlyPhoneNumberId === undefined) deps.counters.processed += docs.length;
  }

  private quarantineDoc(
    journalId: string,
    reason: QuarantineReason,
    phoneNumberId?: string,
    detail?: string,
  ): QuarantineDoc {
    const at = new Date(this.now());
    return {
      _id: [journalId, reason, phoneNumberId ?? detail ?? ''].join('~'),
      journalId,
      reason,
      ...(phoneNumberId ? { phoneNumberId } : {}),
      ...(detail ? { detail: detail.slice(0, 512) } : {}),
      at,
      expiresAt: new Date(at.getTime() + 30 * 24 * 3600 * 1000),
    };
  }

  private splitChange(
    doc: JournalDoc,
    field: string,
    value: Record<string, unknown>,
    route: DirectoryEntry,
    items: Item[],
  ): void {
    const ws = route.workspaceId;
    const pnid = route.phoneNumberId;
    const received = doc.receivedAt.getTime();
    const item = (key: string, jobs: Job[], window?: Item['window']) =>
      items.push({ key: `${key}|${doc._id}`, ws, jobs, ...(window ? { window } : {}) });
    if (field === 'messages') {
      for (const m of arr(value.messages)) {
        const message = rec(m);
        const wamid = String(message.id ?? '');
        const from = String(message.from ?? '');
        const content = projectContent(message);
        const at = iso(message.timestamp, received);
        const inbound: QueuePayload<'message.inbound.v1'> = {
          workspaceId: ws,
          phoneNumberId: pnid,
          from,
          wamid,
          receivedAt: at,
          journalId: doc._id,
          content,
        };
        const jobs: Job[] = [{ queue: 'message.inbound.v1', jobId: jobIdOf(ws, wamid), payload: inbound }];
        if (content.type === 'text') {
          jobs.push({
            queue: 'consent.signal.v1',
            jobId: jobIdOf(ws, wamid, 'text'),
            payload: {
              workspaceId: ws,
              contact: from,
              signal: 'inbound_text',
              scope: 'all',
              phoneNumberId: pnid,
              source: 'keyword',
              evidence: { wamid, text: content.text.body.slice(0, 1_024) },
              observedAt: at,
            } satisfies QueuePayload<'consent.signal.v1'>,
          });
        } else if (isStopPromotionsButton(content)) {
          jobs.push({
            queue: 'consent.signal.v1',
            jobId: jobIdOf(ws, wamid, 'button'),
            payload: {
              workspaceId: ws,
              contact: from,
              signal: 'opt_out',
              scope: 'marketing',
              phoneNumberId: pnid,
              source: 'stop_promotions_button',
              evidence: { wamid },
              observedAt: at,
            } satisfies QueuePayload<'consent.signal.v1'>,
          });
        }
        item(`m~${wamid}`, jobs, { pnid, waId: from, until: Date.parse(at) + WINDOW_MS });
      }
      for (const s of arr(value.statuses)) {
        const st = rec(s);
        const wamid = String(st.id ?? '');
        const status = String(st.status ?? '');
        if (!['sent', 'delivered', 'read', 'failed'].includes(status)) continue; // `played`: not a MessageStatus
        const at = iso(st.timestamp, received);
        const recipient = String(st.recipient_id ?? '');
        const error = rec(arr(st.errors)[0]);
        const event: QueuePayload<'message.events.v1'> = {
          workspaceId: ws,
          wamid,
          recipient,
          status: status as 'sent',
          occurredAt: at,
          source: 'webhook',
          ...(status === 'failed' && typeof error.code === 'number'
            ? {
                error: {
                  code: error.code,
                  title: String(error.title ?? 'unknown').slice(0, 512) || 'unknown',
                },
              }
            : {}),
        };
        const jobs: Job[] = [
          { queue: 'message.events.v1', jobId: jobIdOf(ws, wamid, status), payload: event },
        ];
        if (status === 'failed' && arr(st.errors).some((e) => rec(e).code === 131050)) {
          jobs.push({
            queue: 'consent.signal.v1',
            jobId: jobIdOf(ws, wamid, '131050'),
            payload: {
              workspaceId: ws,
              contact: recipient,
              signal: 'opt_out',
              scope: 'marketing',
              phoneNumberId: pnid,
              source: 'error_131050',
              evidence: { wamid },
              observedAt: at,
            } satisfies QueuePayload<'consent.signal.v1'>,
          });
        }
        item(`s~${wamid}~${status}`, jobs);
      }
      arr(value.errors).forEach((e, i) => {
        const error = rec(e);
        item(`e~${doc._id}~${i}`, [
          {
            queue: 'audit.v1',
            jobId: jobIdOf(ws, doc._id, 'error', i),
            payload: {
              workspaceId: ws,
              actor: { type: 'service', id: 'webhook-ingest' },
              action: 'webhook.error',
              target: { type: 'phone_number', id: pnid },
              at: new Date(received).toISOString(),
              outcome: 'failure',
              data: {
                code: typeof error.code === 'number' ? error.code : null,
                title: String(error.title ?? '').slice(0, 512),
                journalId: doc._id,
              },
            } satisfies QueuePayload<'audit.v1'>,
          },
        ]);
      });
    } else if (field === 'user_preferences') {
      for (const p of arr(value.user_preferences)) {
        const pref = rec(p);
        const waId = String(pref.wa_id ?? '');
        const choice = pref.value === 'stop' ? 'opt_out' : pref.value === 'resume' ? 'opt_in' : undefined;
        if (!choice) continue;
        const ts = String(pref.timestamp ?? '');
        item(`u~${pnid}~${waId}~${ts}~${choice}`, [
          {
            queue: 'consent.signal.v1',
            jobId: jobIdOf(ws, 'prefs', waId, ts, choice),
            payload: {
              workspaceId: ws,
              contact: waId,
              signal: choice,
              scope: 'marketing',
              phoneNumberId: pnid,
              source: 'user_preferences',
              evidence: { text: String(pref.detail ?? '').slice(0, 1_024) },
              observedAt: iso(pref.timestamp, received),
            } satisfies QueuePayload<'consent.signal.v1'>,
          },
        ]);
      }
    }
  }

  /** phone_number_id → directory entry, from Redis, else gateway; absent = unknown. */
  async resolve(numbers: string[]): Promise<Map<string, DirectoryEntry>> {
    const out = new Map<string, DirectoryEntry>();
    if (numbers.length === 0) return out;
    const values = await this.deps.redis.mget(...numbers.map((n) => directoryKey(this.deps.prefix, n)));
    const misses: string[] = [];
    numbers.forEach((n, i) => {
      const raw = values[i];
      let entry: unknown;
      try {
        entry = raw ? JSON.parse(raw) : undefined;
      } catch {
        entry = undefined;
      }
      if (Value.Check(DirectoryEntry, entry) && entry.phoneNumberId === n) out.set(n, entry);
      else misses.push(n);
    });
    const gw = this.deps.gateway;
    if (gw) {
      await Promise.all(
        misses.map(async (n) => {
          const res = await fetch(`${gw.url}/internal/v1/directory/${encodeURIComponent(n)}`, {
            headers: { authorization: gw.auth.headerFor('gateway') },
            signal: AbortSignal.timeout(2_000),
          });
          if (res.status === 404) return;
          if (!res.ok)
            throw new Error(`gateway directory lookup answered ${res.status}; retried by the re-drive`);
          const entry: unknown = await res.json();
          if (Value.Check(DirectoryEntry, entry) && entry.phoneNumberId === n) out.set(n, entry);
        }),
      );
    }
    return out;
  }

  private dedupeKey(key: string): string {
    return keyOf(this.deps.prefix, 'wh-dedupe', key);
  }

  /**
   * Claims each item's dedupe key for its journal entry (`SET NX GET`, 8 days). An item is
   * fresh when the key was free or already held by the same entry (a re-drive of an entry
   * that failed after claiming). When Redis lost its data (the `ready` marker is gone), the
   * keys are first rebuilt from the `webhook_seen` record.
   */
  private async claim(items: Item[]): Promise<Item[]> {
    if (items.length === 0) return [];
    const { redis } = this.deps;
    const ready = keyOf(this.deps.prefix, 'wh-dedupe', 'ready');
    if (!(await redis.exists(ready))) await this.rebuildDedupe(ready);
    const pipeline = redis.pipeline();
    for (const item of items) {
      const [key, journalId] = item.key.split('|') as [string, string];
      pipeline.set(this.dedupeKey(key), journalId, 'PX', RETENTION_MS, 'NX', 'GET');
    }
    const results = (await pipeline.exec()) ?? [];
    const fresh: Item[] = [];
    const inBatch = new Set<string>();
    items.forEach((item, i) => {
      const [error, previous] = results[i] ?? [new Error('no reply')];
      if (error) throw error;
      const [key, journalId] = item.key.split('|') as [string, string];
      if (inBatch.has(key)) return; // the same item twice in one batch
      if (previous === null || previous === journalId) {
        inBatch.add(key);
        fresh.push(item);
      }
    });
    return fresh;
  }

  /** Reloads the dedupe keys from the durable record, then marks them ready. */
  private async rebuildDedupe(ready: string): Promise<void> {
    const seen = await this.deps.seenRepo.find({});
    const now = this.now();
    const pipeline = this.deps.redis.pipeline();
    for (const s of seen) {
      const ttl = s.expiresAt.getTime() - now;
      if (ttl > 0) pipeline.set(this.dedupeKey(s._id), s.journalId, 'PX', ttl, 'NX');
    }
    pipeline.set(ready, '1');
    await pipeline.exec();
    this.deps.log.info({ keys: seen.length }, 'webhook dedupe keys rebuilt from webhook_seen');
  }

  private async emit(items: Item[]): Promise<void> {
    if (items.length === 0) return;
    const byQueue = new Map<QueueName, Job[]>();
    for (const item of items)
      for (const job of item.jobs) byQueue.set(job.queue, [...(byQueue.get(job.queue) ?? []), job]);
    const windows = items.flatMap((i) => (i.window ? [i.window] : []));
    const now = this.now();
    await Promise.all([
      ...[...byQueue].map(async ([name, jobs]) => {
        await this.deps
          .queues(name)
          .addBulk(jobs.map((j) => ({ name, data: j.payload, opts: { jobId: j.jobId } })));
      }),
      (async () => {
        if (windows.length === 0) return;
        const pipeline = this.deps.redis.pipeline();
        for (const w of windows)
          pipeline.eval(
            WINDOW_SCRIPT,
            1,
            windowKey(this.deps.prefix, w.pnid, w.waId),
            String(w.until),
            String(now),
          );
        const results = (await pipeline.exec()) ?? [];
        for (const [error] of results) if (error) throw error;
      })(),
    ]);
  }
}

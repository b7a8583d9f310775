import { createHash, randomBytes } from 'node:crypto';
import { type TypeCheck, TypeCompiler } from '@sinclair/typebox/compiler';
import { Value } from '@sinclair/typebox/value';
import {
  CONSENT_TEXT_MAX_LENGTH,
  DirectoryEntry,
  directoryKey,
  keyOf,
  QUEUES,
  type QueueName,
  type QueuePayload,
  WabaDirectoryEntry,
  WebhookEnvelope,
  wabaDirectoryKey,
  windowKey,
} from '@wapi/contracts';
import { type InternalAuth, jobIdOf } from '@wapi/service-kit';
import type { GlobalRepository } from '@wapi/store';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { ACCOUNT_FIELDS, projectAccountChange } from './account';
import { isStopPromotionsButton, projectContent } from './content';
import type { GroupCommit } from './group-commit';

/** One verified webhook body as the journal holds it (the raw bytes, as UTF-8 text). */
export interface JournalDoc {
  _id: string;
  receivedAt: Date;
  body: string;
  expiresAt: Date;
}

/**
 * One processed batch, appended (never an update: FerretDB updates scan): the journal
 * entries it finished and the items it emitted. One document per batch rather than one per
 * entry and one per item: on the embedded database each document costs, and these are
 * written for every webhook.
 */
export interface DoneDoc {
  _id: string;
  /** Earliest and latest `receivedAt` of `entries` (the re-drive reads marks by `to`). */
  from: Date;
  to: Date;
  /** Journal ids fully processed (empty for the re-drive of a quarantined item). */
  entries: string[];
  /** `<dedupe key>|<journal id>` of every item emitted: the record the Redis dedupe keys are rebuilt from. */
  seen: string[];
  expiresAt: Date;
}

export type QuarantineReason =
  | 'not_json'
  | 'not_envelope'
  | 'unknown_number'
  | 'unknown_waba'
  | 'invalid_item';

/** Restricts a re-drive of a quarantined item to the changes of one number or one WABA. */
export type Only = { phoneNumberId: string } | { wabaId: string };

/** Something set aside for an operator or a later re-drive. */
export interface QuarantineDoc {
  _id: string;
  journalId: string;
  reason: QuarantineReason;
  phoneNumberId?: string;
  wabaId?: string;
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
  secretRefreshFailures: number;
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
    secretRefreshFailures: 0,
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
  doneRepo: GlobalRepository<DoneDoc>;
  quarantine: GlobalRepository<QuarantineDoc>;
  counters: Counters;
  gateway?: { url: string; auth: InternalAuth };
  now?: () => number;
  /** Called with the journal ids of every batch `enqueue` took, once it is settled (processed or failed). */
  onSettled?: (ids: string[]) => void;
}

type Job = { queue: QueueName; jobId: string; payload: unknown };
/** One emittable item: its dedupe key (`dedupe`) claimed for the journal entry it came from. */
type Item = {
  dedupe: string;
  journalId: string;
  ws: string;
  jobs: Job[];
  window?: { pnid: string; waId: string; until: number };
};

// Compiled once: the interpreted Value.Check walks the schema on every call, and every item
// of every webhook is checked against its queue's schema.
const envelopeCheck = TypeCompiler.Compile(WebhookEnvelope);
const payloadChecks = new Map<QueueName, TypeCheck<(typeof QUEUES)[QueueName]['payload']>>();
function payloadCheck(name: QueueName): TypeCheck<(typeof QUEUES)[QueueName]['payload']> {
  let check = payloadChecks.get(name);
  if (!check) {
    check = TypeCompiler.Compile(QUEUES[name].payload);
    payloadChecks.set(name, check);
  }
  return check;
}

// One round trip per processing batch for the dedupe claims and the customer-service windows
// (rather than an EXISTS, a SET per item and a script call per window): nil when the dedupe
// `ready` marker is gone (Redis lost its data: rebuild, then call again), else one flag per
// item, 1 = fresh (the key was free or already held by the same journal entry). The window of
// a fresh item moves to its `until` (never backwards, never into the past).
// KEYS: ready marker, the n dedupe keys, then the window key of each item that has one, in
// item order. ARGV: n, dedupe ttl (ms), now (ms), then per item its journal id and its window's
// `until` ('' when it has none).
const CLAIM_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local n = tonumber(ARGV[1])
local now = tonumber(ARGV[3])
local out = {}
local w = n + 1
for i = 1, n do
  local jid = ARGV[2 + 2 * i]
  local untilv = ARGV[3 + 2 * i]
  local prev = redis.call('SET', KEYS[1 + i], jid, 'PX', ARGV[2], 'NX', 'GET')
  local fresh = (not prev) or prev == jid
  out[i] = fresh and 1 or 0
  if untilv ~= '' then
    w = w + 1
    local v = tonumber(untilv)
    if fresh and v > now then
      local cur = tonumber(redis.call('GET', KEYS[w]) or '0')
      if v > cur then
        redis.call('SET', KEYS[w], untilv)
        redis.call('PEXPIREAT', KEYS[w], untilv)
      end
    end
  end
end
return out`;

const CLAIM_COMMAND = 'wapiWebhookClaim';
type WithClaim = { [CLAIM_COMMAND]: (...args: (string | number)[]) => Promise<number[] | null> };

const rec = (v: unknown): Record<string, unknown> =>
  v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const iso = (unixSeconds: unknown, fallback: number) => {
  const n = Number(unixSeconds);
  return new Date(Number.isFinite(n) && n > 0 ? n * 1000 : fallback).toISOString();
};

/** Meta's `pricing` of a status (§3.5) → `MessageEventV1.pricing`; undefined when absent or empty. */
function projectPricing(raw: unknown): QueuePayload<'message.events.v1'>['pricing'] {
  const p = rec(raw);
  const str = (v: unknown) => (typeof v === 'string' && v.length > 0 ? v.slice(0, 64) : undefined);
  const out = {
    ...(typeof p.billable === 'boolean' ? { billable: p.billable } : {}),
    ...(str(p.category) ? { category: str(p.category) as string } : {}),
    ...(str(p.pricing_model) ? { pricingModel: str(p.pricing_model) as string } : {}),
    ...(str(p.type) ? { type: str(p.type) as string } : {}),
  };
  return Object.keys(out).length > 0 ? out : undefined;
}

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
    // EVALSHA with the script loaded once, rather than the script's text in every command
    // (the number of keys varies: given with each call).
    if (!(CLAIM_COMMAND in deps.redis)) deps.redis.defineCommand(CLAIM_COMMAND, { lua: CLAIM_SCRIPT });
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
      const batch = this.queue.splice(0, 500);
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
          this.deps.onSettled?.(batch.map((d) => d._id));
          this.running--;
          this.pump();
          if (this.queue.length === 0 && this.running === 0) {
            for (const w of this.idleWaiters.splice(0)) w();
          }
        });
    }
  }

  /**
   * Processes entries; with `only`, just the changes of that number or WABA (the re-drive of
   * a quarantined item: the rest of the body was processed the first time).
   */
  async processBatch(docs: JournalDoc[], only?: Only): Promise<void> {
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
      if (!envelopeCheck.Check(value)) {
        quarantined.push(this.quarantineDoc(doc._id, 'not_envelope'));
        continue;
      }
      parsed.push({ doc, env: value });
    }

    // Route every change in one round trip per kind (plus gateway on a miss): messages and
    // preferences by `metadata.phone_number_id`, management fields by the WABA (`entry.id`).
    const numbers = new Set<string>();
    const wabas = new Set<string>();
    for (const { env } of parsed)
      for (const e of env.entry)
        for (const c of e.changes) {
          const pnid = rec(rec(c.value).metadata).phone_number_id;
          if (typeof pnid === 'string') numbers.add(pnid);
          else if (ACCOUNT_FIELDS.has(c.field)) wabas.add(e.id);
        }
    const [directory, wabaDirectory] = await Promise.all([
      this.resolve([...numbers]),
      this.resolveWabas([...wabas]),
    ]);

    const items: Item[] = [];
    for (const { doc, env } of parsed) {
      const unknown = new Set<string>();
      const unknownWabas = new Set<string>();
      for (const entry of env.entry) {
        for (const change of entry.changes) {
          const value = rec(change.value);
          const pnid = rec(value.metadata).phone_number_id;
          if (typeof pnid !== 'string') {
            if (!ACCOUNT_FIELDS.has(change.field)) continue; // other fields: journaled only
            if (only && !('wabaId' in only && only.wabaId === entry.id)) continue;
            const owner = wabaDirectory.get(entry.id);
            if (!owner) unknownWabas.add(entry.id);
            else this.splitAccountChange(doc, entry, change.field, change.value, owner.workspaceId, items);
            continue;
          }
          if (only && !('phoneNumberId' in only && only.phoneNumberId === pnid)) continue;
          const route = directory.get(pnid);
          if (!route) {
            unknown.add(pnid);
            continue;
          }
          this.splitChange(doc, change.field, value, route, items);
        }
      }
      for (const pnid of unknown) quarantined.push(this.quarantineDoc(doc._id, 'unknown_number', pnid));
      for (const waba of unknownWabas)
        quarantined.push(this.quarantineDoc(doc._id, 'unknown_waba', undefined, undefined, waba));
    }

    // Validate before claiming anything: a bad item is quarantined, the rest go on.
    const valid: Item[] = [];
    for (const item of items) {
      const bad = item.jobs.find((j) => !payloadCheck(j.queue).Check(j.payload));
      if (bad) {
        quarantined.push(
          this.quarantineDoc(
            item.journalId,
            'invalid_item',
            undefined,
            `${bad.queue} ${item.dedupe}|${item.journalId}`,
          ),
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
    const entries = only === undefined ? docs : [];
    if (entries.length > 0 || fresh.length > 0) {
      let from = Number.POSITIVE_INFINITY;
      let to = 0;
      for (const d of docs) {
        const t = d.receivedAt.getTime();
        if (t < from) from = t;
        if (t > to) to = t;
      }
      await deps.done.add({
        // Random per batch: two instances re-driving the same entry must not collide.
        _id: `d${docs[0]?._id ?? ''}${randomBytes(6).toString('hex')}`,
        from: new Date(from),
        to: new Date(to),
        entries: entries.map((d) => d._id),
        seen: fresh.map((i) => `${i.dedupe}|${i.journalId}`),
        expiresAt: new Date(this.now() + RETENTION_MS),
      });
    }
    deps.counters.items += fresh.length;
    if (only === undefined) deps.counters.processed += docs.length;
  }

  private quarantineDoc(
    journalId: string,
    reason: QuarantineReason,
    phoneNumberId?: string,
    detail?: string,
    wabaId?: string,
  ): QuarantineDoc {
    const at = new Date(this.now());
    return {
      _id: [journalId, reason, phoneNumberId ?? wabaId ?? detail ?? ''].join('~'),
      journalId,
      reason,
      ...(phoneNumberId ? { phoneNumberId } : {}),
      ...(wabaId ? { wabaId } : {}),
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
      items.push({ dedupe: key, journalId: doc._id, ws, jobs, ...(window ? { window } : {}) });
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
        // Only a text that can be a keyword: compliance never matches a longer one, and a
        // second job per ordinary message is a large share of the processing's cost.
        if (content.type === 'text' && content.text.body.length <= CONSENT_TEXT_MAX_LENGTH) {
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
              evidence: { wamid, text: content.text.body },
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
        // message-sender sets biz_opaque_callback_data to the wapi message id; anything else
        // (another sender on the same number) that cannot be one is left out.
        const opaque = st.biz_opaque_callback_data;
        const messageId =
          typeof opaque === 'string' && /^[\x21-\x7e]{1,128}$/.test(opaque) ? opaque : undefined;
        const pricing = projectPricing(st.pricing);
        const event: QueuePayload<'message.events.v1'> = {
          workspaceId: ws,
          ...(messageId ? { messageId } : {}),
          wamid,
          recipient,
          status: status as 'sent',
          occurredAt: at,
          source: 'webhook',
          ...(pricing ? { pricing } : {}),
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

  /**
   * One management change → one `account.update.v1` item. Meta gives these no id, and a
   * retry (or a second subscribed app) resends the same value, so the dedupe key is the
   * WABA, field, `entry.time` and a hash of the value as received.
   */
  private splitAccountChange(
    doc: JournalDoc,
    entry: { id: string; time?: unknown },
    field: string,
    rawValue: unknown,
    ws: string,
    items: Item[],
  ): void {
    const change = projectAccountChange(field, rawValue);
    if (!change) return;
    const digest = createHash('sha256')
      .update(`${field}\n${String(entry.time ?? '')}\n${JSON.stringify(rawValue)}`)
      .digest('base64url')
      .slice(0, 32);
    const payload: QueuePayload<'account.update.v1'> = {
      workspaceId: ws,
      wabaId: entry.id,
      journalId: doc._id,
      occurredAt: iso(entry.time, doc.receivedAt.getTime()),
      change,
    };
    items.push({
      dedupe: `a~${entry.id}~${digest}`,
      journalId: doc._id,
      ws,
      jobs: [{ queue: 'account.update.v1', jobId: jobIdOf(ws, 'acct', entry.id, digest), payload }],
    });
  }

  /** WABA id → owning workspace, from Redis, else gateway; absent = unknown (fail closed). */
  async resolveWabas(wabaIds: string[]): Promise<Map<string, WabaDirectoryEntry>> {
    return this.lookup(
      wabaIds,
      (id) => wabaDirectoryKey(this.deps.prefix, id),
      (id) => `/internal/v1/directory/waba/${encodeURIComponent(id)}`,
      (id, entry): entry is WabaDirectoryEntry =>
        Value.Check(WabaDirectoryEntry, entry) && entry.wabaId === id,
    );
  }

  /** phone_number_id → directory entry, from Redis, else gateway; absent = unknown. */
  async resolve(numbers: string[]): Promise<Map<string, DirectoryEntry>> {
    return this.lookup(
      numbers,
      (n) => directoryKey(this.deps.prefix, n),
      (n) => `/internal/v1/directory/${encodeURIComponent(n)}`,
      (n, entry): entry is DirectoryEntry => Value.Check(DirectoryEntry, entry) && entry.phoneNumberId === n,
    );
  }

  /** One MGET for every id; each miss asked of gateway (404: unknown; other failures throw, so the re-drive retries). */
  private async lookup<E>(
    ids: string[],
    key: (id: string) => string,
    path: (id: string) => string,
    valid: (id: string, entry: unknown) => entry is E,
  ): Promise<Map<string, E>> {
    const out = new Map<string, E>();
    if (ids.length === 0) return out;
    const values = await this.deps.redis.mget(...ids.map(key));
    const misses: string[] = [];
    ids.forEach((id, i) => {
      const raw = values[i];
      let entry: unknown;
      try {
        entry = raw ? JSON.parse(raw) : undefined;
      } catch {
        entry = undefined;
      }
      if (valid(id, entry)) out.set(id, entry);
      else misses.push(id);
    });
    const gw = this.deps.gateway;
    if (gw) {
      await Promise.all(
        misses.map(async (id) => {
          const res = await fetch(`${gw.url}${path(id)}`, {
            headers: { authorization: gw.auth.headerFor('gateway') },
            signal: AbortSignal.timeout(2_000),
          });
          if (res.status === 404) return;
          if (!res.ok)
            throw new Error(`gateway directory lookup answered ${res.status}; retried by the re-drive`);
          const entry: unknown = await res.json();
          if (valid(id, entry)) out.set(id, entry);
        }),
      );
    }
    return out;
  }

  private dedupeKey(key: string): string {
    return keyOf(this.deps.prefix, 'wh-dedupe', key);
  }

  /**
   * Claims each item's dedupe key for its journal entry (`SET NX GET`, 8 days) and moves the
   * windows of the fresh ones, in one script call. An item is fresh when the key was free or
   * already held by the same entry (a re-drive of an entry that failed after claiming). When
   * Redis lost its data (the `ready` marker is gone), the keys are first rebuilt from the done
   * marks' `seen` record.
   */
  private async claim(items: Item[]): Promise<Item[]> {
    if (items.length === 0) return [];
    const { redis, prefix } = this.deps;
    const ready = keyOf(prefix, 'wh-dedupe', 'ready');
    const keys: string[] = [ready];
    const windowKeys: string[] = [];
    const argv: (string | number)[] = [items.length, RETENTION_MS, this.now()];
    for (const item of items) {
      keys.push(this.dedupeKey(item.dedupe));
      argv.push(item.journalId);
      if (item.window) {
        windowKeys.push(windowKey(prefix, item.window.pnid, item.window.waId));
        argv.push(item.window.until);
      } else argv.push('');
    }
    const call = () =>
      (redis as unknown as WithClaim)[CLAIM_COMMAND](
        keys.length + windowKeys.length,
        ...keys,
        ...windowKeys,
        ...argv,
      );
    let flags = await call();
    if (flags === null) {
      await this.rebuildDedupe(ready);
      flags = await call();
      if (flags === null)
        throw new Error('webhook dedupe marker missing right after its rebuild; retried by the re-drive');
    }
    const fresh: Item[] = [];
    const inBatch = new Set<string>();
    for (let i = 0; i < items.length; i++) {
      if (flags[i] !== 1) continue;
      const item = items[i] as Item;
      if (inBatch.has(item.dedupe)) continue; // the same item twice in one batch
      inBatch.add(item.dedupe);
      fresh.push(item);
    }
    return fresh;
  }

  /** Reloads the dedupe keys from the durable record, then marks them ready. */
  private async rebuildDedupe(ready: string): Promise<void> {
    const marks = await this.deps.doneRepo.find({}, { projection: { seen: 1, expiresAt: 1 } });
    const now = this.now();
    const pipeline = this.deps.redis.pipeline();
    let keys = 0;
    for (const mark of marks) {
      const ttl = mark.expiresAt.getTime() - now;
      if (ttl <= 0) continue;
      // `?? []`: a mark written before marks carried `seen` (one per entry) has none.
      for (const item of mark.seen ?? []) {
        const [key, journalId] = item.split('|') as [string, string];
        pipeline.set(this.dedupeKey(key), journalId, 'PX', ttl, 'NX');
        keys++;
      }
    }
    pipeline.set(ready, '1');
    await pipeline.exec();
    this.deps.log.info({ keys }, 'webhook dedupe keys rebuilt from the done marks');
  }

  /** One `addBulk` per queue for the whole batch (the windows moved with the claims). */
  private async emit(items: Item[]): Promise<void> {
    if (items.length === 0) return;
    const byQueue = new Map<QueueName, { name: QueueName; data: unknown; opts: { jobId: string } }[]>();
    for (const item of items)
      for (const job of item.jobs) {
        let jobs = byQueue.get(job.queue);
        if (!jobs) {
          jobs = [];
          byQueue.set(job.queue, jobs);
        }
        jobs.push({ name: job.queue, data: job.payload, opts: { jobId: job.jobId } });
      }
    await Promise.all([...byQueue].map(([name, jobs]) => this.deps.queues(name).addBulk(jobs)));
  }
}

import type { MessageEventV1, MessageInboundV1 } from '@wapi/contracts';
import { asWorkspaceId } from '@wapi/store';
import { newContact } from './contact-routes';
import type { MessageStateStore, StatusReport } from './message-state';
import {
  contactIdOf,
  inboundMessageId,
  type MessageDoc,
  type MessagingRepositories,
  withoutWorkspace,
} from './repositories';

const groupBy = <T>(items: T[], key: (item: T) => string) => {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const group = groups.get(k);
    if (group) group.push(item);
    else groups.set(k, [item]);
  }
  return groups;
};

/**
 * Applies a batch of status events: one `insertMany` of status documents (the durable record)
 * and one Redis script per workspace (the current state, see message-state.ts); no update of
 * the store, which on FerretDB is a collection scan per message. Every write is commutative
 * and idempotent, so any order and any number of repeats converge on the same state: the
 * rank is a max, each status's time a min, and the wamid and a failure's error are the same
 * in every event naming them.
 *
 * An event naming its message (`messageId`: the sender's, and every webhook status of our
 * sends through `biz_opaque_callback_data`) needs no lookup; one naming only a wamid is
 * resolved through Redis, then `message_wamids` by `_id`. Returns the events whose message
 * is not known yet (a webhook status naming a wamid before the sender's `sent` event mapped
 * it): the caller retries them later.
 */
export async function applyMessageEvents(
  store: MessageStateStore,
  events: MessageEventV1[],
): Promise<{
  applied: number;
  unresolved: MessageEventV1[];
  resolved: { event: MessageEventV1; messageId: string }[];
}> {
  const unresolved: MessageEventV1[] = [];
  const resolved: { event: MessageEventV1; messageId: string }[] = [];
  for (const [workspace, group] of groupBy(events, (e) => e.workspaceId)) {
    const ws = asWorkspaceId(workspace);
    // A repeat within the batch is applied (and published live) once.
    const unique = [...new Map(group.map((e) => [JSON.stringify(e), e])).values()];
    const ids = new Map<string, string>();
    for (const e of unique) if (e.wamid && e.messageId) ids.set(e.wamid, e.messageId);
    const unknown = [
      ...new Set(
        unique.filter((e) => !e.messageId && e.wamid && !ids.has(e.wamid)).map((e) => e.wamid as string),
      ),
    ];
    for (const [wamid, id] of await store.resolveWamids(ws, unknown)) ids.set(wamid, id);
    const reports: StatusReport[] = [];
    for (const e of unique) {
      const id = e.messageId ?? (e.wamid ? ids.get(e.wamid) : undefined);
      if (!id) {
        unresolved.push(e);
        continue;
      }
      resolved.push({ event: e, messageId: id });
      reports.push({
        messageId: id,
        status: e.status,
        at: Date.parse(e.occurredAt),
        wamid: e.wamid,
        error: e.error
          ? {
              code: e.error.code,
              title: e.error.title,
              ...(e.error.wapiCode ? { wapiCode: e.error.wapiCode } : {}),
            }
          : undefined,
        pricing: e.pricing,
      });
    }
    await store.apply(ws, reports);
  }
  return { applied: resolved.length, unresolved, resolved };
}

/**
 * Stores a batch of inbound messages once each (`_id` derived from the wamid, duplicates
 * ignored) and links each to its contact, created on first contact (the same derived `_id`
 * the API uses). The customer-service window is webhook-ingest's to extend.
 */
export async function applyInboundMessages(
  repos: MessagingRepositories,
  messages: MessageInboundV1[],
  now: Date,
): Promise<{ inserted: number }> {
  let inserted = 0;
  for (const [workspace, group] of groupBy(messages, (m) => m.workspaceId)) {
    const ws = asWorkspaceId(workspace);
    const contacts = [...new Map(group.map((m) => [m.from, m])).values()].map((m) =>
      newContact(ws, { phone: `+${m.from}`, waId: m.from }, now),
    );
    await repos.contacts.insertMany(ws, contacts.map(withoutWorkspace), { ignoreDuplicates: true });
    const docs = [...new Map(group.map((m) => [m.wamid, m])).values()].map(
      (m): MessageDoc => ({
        _id: inboundMessageId(ws, m.wamid),
        workspaceId: ws,
        direction: 'inbound',
        phoneNumberId: m.phoneNumberId,
        waId: m.from,
        contactId: contactIdOf(ws, m.from),
        wamid: m.wamid,
        status: 'received',
        statusRank: 0,
        category: 'service',
        contentType: m.content.type,
        content: m.content as Record<string, unknown>,
        replyToWamid: m.context?.id ?? null,
        history: [{ status: 'received', at: new Date(m.receivedAt) }],
        error: null,
        requestHash: null,
        createdAt: new Date(m.receivedAt),
      }),
    );
    inserted += (await repos.messages.insertMany(ws, docs.map(withoutWorkspace), { ignoreDuplicates: true }))
      .inserted;
  }
  return { inserted };
}

/**
 * Collects items from concurrent jobs into batches of up to `maxSize` (or whatever arrived
 * within `maxWaitMs`), so the write rate follows the store's bulkWrite ceiling rather than
 * one round trip per event. Each `add` settles when its batch is written; an item the batch
 * could not apply rejects, so its job is retried.
 */
export function microBatcher<T>(
  apply: (items: T[]) => Promise<T[]>,
  { maxSize = 500, maxWaitMs = 10 }: { maxSize?: number; maxWaitMs?: number } = {},
) {
  let pending: { item: T; resolve(): void; reject(error: unknown): void }[] = [];
  let timer: NodeJS.Timeout | undefined;
  const flush = async () => {
    clearTimeout(timer);
    timer = undefined;
    const batch = pending;
    pending = [];
    if (batch.length === 0) return;
    try {
      const failed = new Set(await apply(batch.map((p) => p.item)));
      for (const p of batch) {
        if (failed.has(p.item)) p.reject(new Error('not applicable yet (its message is not known); retried'));
        else p.resolve();
      }
    } catch (error) {
      for (const p of batch) p.reject(error);
    }
  };
  return {
    add(item: T): Promise<void> {
      return new Promise<void>((resolve, reject) => {
        pending.push({ item, resolve, reject });
        if (pending.length >= maxSize) void flush();
        else timer ??= setTimeout(() => void flush(), maxWaitMs);
      });
    },
    flush,
  };
}

import type { MessageEventV1, MessageInboundV1 } from '@wapi/contracts';
import { asWorkspaceId, type TenantBulkOperation } from '@wapi/store';
import { newContact } from './contact-routes';
import {
  contactIdOf,
  inboundMessageId,
  type MessageDoc,
  type MessagingRepositories,
  STATUS_RANK,
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
 * Applies a batch of status events in one `bulkWrite` per workspace. Every write is
 * commutative and idempotent, so any order and any number of repeats converge on the same
 * state: the status moves only forward (`$max` of its rank; the status shown is derived from
 * it), the history is a set (`$addToSet` of `{ status, at }`), and the wamid and a failure's
 * error are the same in every event naming them.
 *
 * Returns the events whose message is not known yet (a webhook status naming a wamid before
 * the sender's `sent` event mapped it): the caller retries them later.
 */
export async function applyMessageEvents(
  repos: MessagingRepositories,
  events: MessageEventV1[],
): Promise<{
  applied: number;
  unresolved: MessageEventV1[];
  resolved: { event: MessageEventV1; messageId: string }[];
}> {
  const unresolved: MessageEventV1[] = [];
  const resolved: { event: MessageEventV1; messageId: string }[] = [];
  let applied = 0;
  for (const [workspace, group] of groupBy(events, (e) => e.workspaceId)) {
    const ws = asWorkspaceId(workspace);
    const unique = [...new Map(group.map((e) => [JSON.stringify(e), e])).values()];
    // wamid -> message id, first from the events naming both, then from the map (by `_id`).
    const ids = new Map<string, string>();
    for (const e of unique) if (e.wamid && e.messageId) ids.set(e.wamid, e.messageId);
    if (ids.size > 0) {
      await repos.wamids.insertMany(
        ws,
        [...ids].map(([wamid, messageId]) => ({ _id: wamid, messageId })),
        { ignoreDuplicates: true },
      );
    }
    const unknown = [
      ...new Set(
        unique.filter((e) => !e.messageId && e.wamid && !ids.has(e.wamid)).map((e) => e.wamid as string),
      ),
    ];
    if (unknown.length > 0) {
      for (const m of await repos.wamids.find(ws, { _id: { $in: unknown } })) ids.set(m._id, m.messageId);
    }
    // One update per message however many of its events the batch holds (on FerretDB every
    // update by `_id` is a scan, so the write count is what sets the rate).
    const perMessage = new Map<string, MessageEventV1[]>();
    for (const e of unique) {
      const id = e.messageId ?? (e.wamid ? ids.get(e.wamid) : undefined);
      if (!id) {
        unresolved.push(e);
        continue;
      }
      const list = perMessage.get(id);
      if (list) list.push(e);
      else perMessage.set(id, [e]);
      resolved.push({ event: e, messageId: id });
      applied += 1;
    }
    const operations: TenantBulkOperation<MessageDoc>[] = [];
    for (const [id, list] of perMessage) {
      const wamid = list.find((e) => e.wamid)?.wamid;
      const failure = list.find((e) => e.error)?.error;
      // Meta prices a message once; every status carrying the block carries the same one, so
      // whichever event of the batch has it sets it (commutes with the other batches).
      const pricing = list.find((e) => e.pricing)?.pricing;
      operations.push({
        updateOne: {
          filter: { _id: id },
          update: {
            $max: { statusRank: Math.max(...list.map((e) => STATUS_RANK[e.status])) },
            $addToSet: {
              history: { $each: list.map((e) => ({ status: e.status, at: new Date(e.occurredAt) })) },
            },
            ...(wamid || failure || pricing
              ? {
                  $set: {
                    ...(wamid ? { wamid } : {}),
                    ...(failure
                      ? {
                          error: {
                            code: failure.code,
                            title: failure.title,
                            ...(failure.wapiCode ? { wapiCode: failure.wapiCode } : {}),
                          },
                        }
                      : {}),
                    ...(pricing ? { pricing } : {}),
                  },
                }
              : {}),
          },
        },
      });
    }
    if (operations.length > 0) await repos.messages.bulkWrite(ws, operations, { ordered: false });
  }
  return { applied, unresolved, resolved };
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

import type { WebhookEnvelope } from '@wapi/contracts';

/** One update waiting for delivery: the `value` of one change for one WABA. */
export interface PendingChange {
  wabaId: string;
  field: string;
  value: Record<string, unknown>;
  at: number;
}

type Value = Record<string, unknown>;
type Kind = 'statuses' | 'messages';

/** The array a `messages` value carries when it is a plain batch of statuses or of messages. */
function kindOf(change: PendingChange): Kind | undefined {
  if (change.field !== 'messages' || change.value.errors !== undefined) return undefined;
  const statuses = Array.isArray(change.value.statuses);
  const messages = Array.isArray(change.value.messages);
  if (statuses === messages) return undefined;
  return statuses ? 'statuses' : 'messages';
}

function phoneNumberIdOf(value: Value): string | undefined {
  const metadata = value.metadata as { phone_number_id?: unknown } | undefined;
  return typeof metadata?.phone_number_id === 'string' ? metadata.phone_number_id : undefined;
}

/** Adds `from`'s items (and, for messages, its senders not yet listed) to the merged `into`. */
function absorb(into: Value, from: Value, kind: Kind): void {
  (into[kind] as unknown[]).push(...(from[kind] as unknown[]));
  if (kind !== 'messages' || !Array.isArray(from.contacts)) return;
  const contacts = (into.contacts as Array<{ wa_id?: unknown }> | undefined) ?? [];
  for (const contact of from.contacts as Array<{ wa_id?: unknown }>)
    if (!contacts.some((c) => c.wa_id === contact.wa_id)) contacts.push(contact);
  into.contacts = contacts;
}

/**
 * The POST body for one batch of updates, batched as Meta batches (docs/meta-platform.md §3.6):
 * statuses of one business number share one `value.statuses` array and inbound messages to it
 * one `value.messages` array (with every sender in `contacts`), and every change sits in an
 * `entry` item of its own, so one account can appear in several `entry` items of one POST. A
 * receiver that reads only `entry[0].changes[0].value.statuses[0]` loses updates here as it
 * would at Meta. `time` is set on entries of non-`messages` fields only (§3.3). Pure.
 */
export function batchEnvelope(changes: readonly PendingChange[]): WebhookEnvelope {
  const merged = new Map<string, Value>();
  const out: Array<{ change: PendingChange; value: Value }> = [];
  for (const change of changes) {
    const kind = kindOf(change);
    const numberId = kind ? phoneNumberIdOf(change.value) : undefined;
    if (!kind || numberId === undefined) {
      out.push({ change, value: change.value });
      continue;
    }
    const key = `${change.wabaId} ${numberId} ${kind}`;
    const existing = merged.get(key);
    if (existing) {
      absorb(existing, change.value, kind);
      continue;
    }
    // A copy with fresh arrays: the queued value may be shared by several targets.
    const value: Value = { ...change.value, [kind]: [...(change.value[kind] as unknown[])] };
    if (Array.isArray(change.value.contacts)) value.contacts = [...change.value.contacts];
    merged.set(key, value);
    out.push({ change, value });
  }
  return {
    object: 'whatsapp_business_account',
    entry: out.map(({ change, value }) => ({
      id: change.wabaId,
      ...(change.field === 'messages' ? {} : { time: Math.floor(change.at / 1_000) }),
      changes: [{ field: change.field, value }],
    })),
  };
}

/** How webhook bodies are written: Meta's escaped ASCII (default) or raw UTF-8. */
export type WebhookEncoding = 'meta' | 'utf8';

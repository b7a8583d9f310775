import { type Static, Type } from '@sinclair/typebox';
import { keyOf } from './prefixes';

/**
 * Shared Redis state between services, with its owner. One place, so the writer and the
 * readers cannot drift apart. Each family has its own hash tag (see prefixes.ts).
 */

/**
 * The phone-number directory: `phone_number_id` -> the workspace that owns it. Written by
 * gateway (the system of record for phone numbers), rebuilt from its database at start-up;
 * read by webhook-ingest to route events (fail closed: no entry means quarantine). Value: JSON
 * `DirectoryEntry`. Redis is a cache here: on a miss, ask gateway's
 * `GET /internal/v1/directory/:phoneNumberId`.
 */
export function directoryKey(prefix: string, phoneNumberId: string): string {
  return keyOf(prefix, 'directory', phoneNumberId);
}

export const DirectoryEntry = Type.Object(
  {
    phoneNumberId: Type.String({ pattern: '^[0-9]{1,32}$' }),
    workspaceId: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' }),
    wabaId: Type.String({ pattern: '^[0-9]{1,32}$' }),
    /**
     * The business portfolio that owns the WABA: messaging limits are shared per portfolio
     * (docs/meta-platform.md §5.3). Absent until gateway has fetched it from Graph.
     */
    businessId: Type.Optional(Type.String({ pattern: '^[0-9]{1,32}$' })),
    /** Messages per second the number may send (§5.1), as gateway last synced it; absent: 80. */
    throughputMps: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000 })),
    /**
     * The portfolio's messaging limit on unique business-initiated recipients per rolling
     * 24 h (§5.3), as gateway last synced it; `null`: unlimited; absent: not known yet.
     */
    messagingLimit: Type.Optional(Type.Union([Type.Integer({ minimum: 0 }), Type.Null()])),
  },
  { additionalProperties: false },
);
export type DirectoryEntry = Static<typeof DirectoryEntry>;

/**
 * WABA id -> the workspace that owns it, for the management webhooks that name only the
 * account (`entry.id`: template, quality and account updates, account.update.v1). Same
 * contract as the phone-number directory: written by gateway when a number is connected and
 * at start-up, read by webhook-ingest (fail closed: no entry means quarantine); on a miss,
 * ask gateway's `GET /internal/v1/directory/waba/:wabaId`. Value: JSON `WabaDirectoryEntry`.
 */
export function wabaDirectoryKey(prefix: string, wabaId: string): string {
  return keyOf(prefix, 'waba-directory', wabaId);
}

export const WabaDirectoryEntry = Type.Object(
  {
    wabaId: Type.String({ pattern: '^[0-9]{1,32}$' }),
    workspaceId: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' }),
  },
  { additionalProperties: false },
);
export type WabaDirectoryEntry = Static<typeof WabaDirectoryEntry>;

/**
 * The customer-service window of (business number, customer): open until the value, epoch
 * milliseconds as a decimal string; the key expires then too (`PEXPIREAT`). Written by
 * webhook-ingest on each inbound message (24 h after it, never moved backwards); read by
 * gateway (refuse free-form outside it) and message-sender (re-check before sending).
 */
export function windowKey(prefix: string, phoneNumberId: string, waId: string): string {
  return keyOf(prefix, 'window', phoneNumberId, waId);
}

/**
 * The wamid Meta gave a message, as its status webhook reported it: JSON-free string value,
 * kept 7 days (Meta's retry horizon). Written by gateway when it applies a webhook-sourced
 * `message.events.v1` that names the message (`messageId`, copied by webhook-ingest from
 * `biz_opaque_callback_data`); read by message-sender to settle a send whose Graph answer
 * was lost (the call reached Meta: record it as sent, never call again).
 */
export function sentKey(prefix: string, workspaceId: string, messageId: string): string {
  return keyOf(prefix, 'sent', workspaceId, messageId);
}
/** How long a `sentKey` is kept (ms): Meta's 7-day webhook retry horizon. */
export const SENT_KEY_TTL_MS = 7 * 24 * 3600 * 1000;

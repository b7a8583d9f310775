import { createHash } from 'node:crypto';
import type { MessageCategory, SendContent } from '@wapi/contracts';
import { globalRepository, type IndexSpec, tenantRepository } from '@wapi/store';
import type { Db } from 'mongodb';
import { templateIndexes } from '../templates/store';

/**
 * A connected WhatsApp number. A directory keyed by Meta's phone number id (webhooks name the
 * number before the workspace is known), so it is global; reads in a workspace filter by
 * `workspaceId`. The access token is in vault (`meta.access_token`, record = phone number id).
 */
export interface PhoneNumberDoc {
  _id: string;
  workspaceId: string;
  wabaId: string;
  displayPhoneNumber: string;
  verifiedName: string | null;
  status: 'connected' | 'disconnected';
  qualityRating: string | null;
  messagingLimitTier: string | null;
  throughputMps: number;
  /**
   * The business portfolio owning the WABA, once known (Embedded Signup's event or an
   * `account_update` webhook; Graph's number node does not name it).
   */
  businessId?: string;
  connectedAt: Date;
}

/** A contact; `_id` is derived from (workspace, wa_id), so the insert is the uniqueness check and `?phone=` is a lookup by `_id`. */
export interface ContactDoc {
  _id: string;
  workspaceId: string;
  phone: string;
  waId: string;
  name: string | null;
  nameLower: string | null;
  tags: string[];
  attributes: Record<string, string>;
  /** The member the conversation is assigned to (agents see only theirs); absent or null: nobody. */
  assigneeId?: string | null;
  createdAt: Date;
  updatedAt: Date;
}

export type StoredStatus = 'accepted' | 'sent' | 'delivered' | 'read' | 'failed' | 'received';

/**
 * A message. Outbound: `_id` minted at acceptance (derived from the Idempotency-Key when
 * there is one). Inbound: `_id` derived from the wamid, so a redelivered webhook is stored once.
 */
export interface MessageDoc {
  _id: string;
  workspaceId: string;
  direction: 'outbound' | 'inbound';
  phoneNumberId: string;
  waId: string;
  contactId: string;
  wamid: string | null;
  /** The status at acceptance or receipt; after that `statusRank` is the truth (see statusOf). */
  status: StoredStatus;
  /** Order of the status (STATUS_RANK), only ever raised (`$max`), so events commute. */
  statusRank: number;
  category: MessageCategory;
  contentType: string;
  content: SendContent | Record<string, unknown>;
  replyToWamid: string | null;
  history: { status: string; at: Date }[];
  error: { code: number; title: string; wapiCode?: string } | null;
  /** Meta's pricing block of the status webhooks (billable, category, model, type). */
  pricing?: { billable?: boolean; category?: string; pricingModel?: string; type?: string };
  /** SHA-256 of the request body that created it (Idempotency-Key replays compare it). */
  requestHash: string | null;
  createdAt: Date;
}

/** wamid -> message id, written when the first event naming both arrives; `_id` is the wamid. */
export interface WamidDoc {
  _id: string;
  workspaceId: string;
  messageId: string;
}

/**
 * One status report of an outbound message, appended as it is applied (the durable record of
 * the state kept in Redis, see message-state.ts). `_id` = `<messageId>:<status>:<epoch ms>`,
 * so a repeated event is one document and the earliest report of each status survives.
 */
export interface StatusDoc {
  _id: string;
  workspaceId: string;
  messageId: string;
  status: StoredStatus;
  at: Date;
  wamid?: string;
  error?: { code: number; title: string; wapiCode?: string };
  pricing?: MessageDoc['pricing'];
}

/**
 * An accepted message whose enqueue failed (Redis went away after the insert): kept until the
 * outbox sweep enqueued it. Global (the sweep crosses workspaces) and nearly always empty.
 */
export interface OutboxDoc {
  _id: string;
  workspaceId: string;
  at: Date;
}

/** The answer of a `POST /messages/batch` with an Idempotency-Key; `_id` derived from the key. */
export interface BatchDoc {
  _id: string;
  workspaceId: string;
  requestHash: string;
  results: (
    | { index: number; id: string; status: 'accepted' }
    | { index: number; error: { code: string; message: string } }
  )[];
  createdAt: Date;
}

/** Forward-only order of statuses; `failed` is final. */
export const STATUS_RANK: Record<StoredStatus, number> = {
  accepted: 0,
  received: 0,
  sent: 1,
  delivered: 2,
  read: 3,
  failed: 4,
};

/** The statuses of outbound messages by rank. */
export const RANKED: StoredStatus[] = ['accepted', 'sent', 'delivered', 'read', 'failed'];

/** A message's current status: received for inbound ones, else the name of its highest rank. */
export const statusOf = (m: Pick<MessageDoc, 'direction' | 'statusRank'>): StoredStatus =>
  m.direction === 'inbound' ? 'received' : (RANKED[m.statusRank] ?? 'accepted');

const digest = (...parts: string[]) =>
  createHash('sha256').update(parts.join('\u0000')).digest('base64url').slice(0, 22);

/** The contact id of `waId` in workspace `ws` (stable: the same number is always the same contact). */
export const contactIdOf = (ws: string, waId: string) => `ct_${digest('contact', ws, waId)}`;
/** The message id an `Idempotency-Key` maps to: every retry names the same document. */
export const idempotentMessageId = (ws: string, key: string) => `msg_${digest('idem', ws, key)}`;
/** The id of an inbound message (one per wamid). */
/** The `_id` of a batch's Idempotency-Key record, and of its message number `index`. */
export const idempotentBatchId = (ws: string, key: string) => `bat_${digest('batch', ws, key)}`;
export const idempotentBatchMessageId = (ws: string, key: string, index: number) =>
  `msg_${digest('batch', ws, key, String(index))}`;
export const inboundMessageId = (ws: string, wamid: string) => `msg_${digest('in', ws, wamid)}`;

/** A document as the tenant repository inserts it (it sets `workspaceId` itself). */
export function withoutWorkspace<T extends { workspaceId: string }>(doc: T): Omit<T, 'workspaceId'> {
  const { workspaceId: _, ...rest } = doc;
  return rest;
}

export function messagingRepositories(db: Db) {
  return {
    phoneNumbers: globalRepository<PhoneNumberDoc>(db, 'phone_numbers'),
    contacts: tenantRepository<ContactDoc>(db, 'contacts'),
    messages: tenantRepository<MessageDoc>(db, 'messages'),
    wamids: tenantRepository<WamidDoc>(db, 'message_wamids'),
    statuses: tenantRepository<StatusDoc>(db, 'message_statuses'),
    outbox: globalRepository<OutboxDoc>(db, 'message_outbox'),
    batches: tenantRepository<BatchDoc>(db, 'message_batches'),
  };
}
export type MessagingRepositories = ReturnType<typeof messagingRepositories>;

export const messagingIndexes: IndexSpec[] = [
  {
    collection: 'phone_numbers',
    name: 'workspace',
    key: { workspaceId: 1, connectedAt: 1 },
    serves: 'phoneNumbers.find({ workspaceId }) listing a workspace’s numbers',
  },
  {
    collection: 'contacts',
    name: 'workspace_id',
    key: { workspaceId: 1, _id: 1 },
    serves: 'contacts.find(ws, { _id: { $gt: cursor } }) cursor pages',
  },
  {
    collection: 'messages',
    name: 'workspace_contact_created',
    key: { workspaceId: 1, contactId: 1, createdAt: 1 },
    serves: 'messages.find(ws, { contactId }) the contact timeline',
  },
  {
    collection: 'message_statuses',
    name: 'workspace_message',
    key: { workspaceId: 1, messageId: 1 },
    serves: 'statuses.find(ws, { messageId: { $in } }) rebuilding a state Redis lost',
  },
  {
    collection: 'contacts',
    name: 'workspace_assignee',
    key: { workspaceId: 1, assigneeId: 1, _id: 1 },
    serves: 'contacts.find(ws, { assigneeId }) an agent’s contacts and their live-events set',
  },
  // Templates are part of the send path; their index is applied with the rest.
  ...templateIndexes,
];

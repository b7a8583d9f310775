import { createHash } from 'node:crypto';
import { Type } from '@sinclair/typebox';
import { checkSuppression } from '@wapi/consent';
import {
  ApiSendBatchRequest,
  ApiSendBatchResponse,
  ApiSendMessageRequest,
  ApiSendTextRequest,
  AppError,
  ContactIdParam,
  ErrorResponse,
  Message,
  MessageAccepted,
  type MessageCategory,
  MessageIdParam,
  MessageList,
  MessageListQuery,
  type SendContent,
  Timeline,
  windowKey,
} from '@wapi/contracts';
import type { ServiceApp } from '@wapi/service-kit';
import { asWorkspaceId, type WorkspaceId } from '@wapi/store';
import type { Redis } from 'ioredis';
import type { ComplianceClient } from '../data/compliance-client';
import { randomBase62 } from '../domain/ids';
import { principalOf } from '../plugins/auth';
import type { TemplateStore } from '../templates/store';
import { newContact } from './contact-routes';
import type { GroupCommit } from './group-commit';
import { contactCacheKey, type SendCaches } from './hot-cache';
import { mergeState, messageStateStore } from './message-state';
import type { MessageOutbox } from './outbox';
import { normalisePhone } from './phone';
import {
  type BatchDoc,
  type ContactDoc,
  contactIdOf,
  idempotentBatchId,
  idempotentBatchMessageId,
  idempotentMessageId,
  inboundMessageId,
  type MessageDoc,
  type MessagingRepositories,
  type PhoneNumberDoc,
  STATUS_RANK,
  statusOf,
  withoutWorkspace,
} from './repositories';
import { seesAllConversations, visibleContactIds } from './visibility';

const errors = { '4xx': ErrorResponse, '5xx': ErrorResponse } as const;

/**
 * One entry per status, in status order: the sender and Meta's webhook both report `sent`
 * (and a duplicated webhook may report any status twice), at different precisions; the
 * earliest report of each is when it happened.
 */
function historyView(history: MessageDoc['history']): Message['history'] {
  const first = new Map<string, Date>();
  for (const h of history) {
    const seen = first.get(h.status);
    if (!seen || h.at < seen) first.set(h.status, h.at);
  }
  const rank = (status: string) => STATUS_RANK[status as keyof typeof STATUS_RANK] ?? 0;
  return [...first]
    .sort(([a, atA], [b, atB]) => rank(a) - rank(b) || atA.getTime() - atB.getTime())
    .map(([status, at]) => ({ status, at: at.toISOString() }));
}

export const messageView = (m: MessageDoc): Message => ({
  id: m._id,
  direction: m.direction,
  phoneNumberId: m.phoneNumberId,
  waId: m.waId,
  contactId: m.contactId,
  wamid: m.wamid,
  status: statusOf(m),
  category: m.category,
  contentType: m.contentType,
  history: historyView(m.history),
  error: m.error,
  ...(m.pricing ? { pricing: m.pricing } : {}),
  createdAt: m.createdAt.toISOString(),
});

export interface MessageRouteDeps {
  repos: MessagingRepositories;
  redis: Redis;
  prefix: string;
  compliance: Pick<ComplianceClient, 'suppressed'>;
  /** Marks, enqueues on `message.send.v1` and, when the enqueue fails, keeps accepted messages. */
  outbox: MessageOutbox;
  /** The stored templates a template send is checked against (and takes its category from). */
  templates: Pick<TemplateStore, 'checkSend'>;
  /** Group commit of sends without Idempotency-Key (one insertMany + addBulk per write). */
  commit: GroupCommit;
  /** Connected numbers and known contacts, so the send path reads no collection on a hit. */
  caches: SendCaches;
  now(): Date;
}

const IdempotencyHeaders = Type.Object({
  'idempotency-key': Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 128,
      description: 'same key and body: the same message, never two',
    }),
  ),
});

/** Sending (`POST /api/v1/messages`) and reading messages. */
export function registerMessageRoutes(app: ServiceApp, deps: MessageRouteDeps): void {
  const { repos } = deps;
  // The applied status state (Redis, rebuilt from `message_statuses` when Redis lost it).
  const states = messageStateStore({ redis: deps.redis, prefix: deps.prefix, repos });
  /** The documents as they stand: each merged with its applied state. */
  const current = async (ws: WorkspaceId, docs: MessageDoc[]) => {
    const applied = await states.states(ws, docs, deps.now());
    return docs.map((d) => mergeState(d, applied.get(d._id)));
  };

  /** The contact addressed (by id, or by number: created on first use), from the cache on a hit. */
  async function contactFor(
    ws: WorkspaceId,
    body: ApiSendMessageRequest,
  ): Promise<Pick<ContactDoc, '_id' | 'waId'>> {
    if (body.contactId !== undefined) {
      const key = contactCacheKey(ws, body.contactId);
      const cached = deps.caches.contacts.get(key);
      if (cached) return { _id: body.contactId, waId: cached };
      const contact = await repos.contacts.findOne(ws, { _id: body.contactId });
      if (!contact) throw new AppError('NOT_FOUND', 'No contact with this id in this workspace.');
      deps.caches.contacts.set(key, contact.waId);
      return contact;
    }
    if (body.to === undefined) {
      throw new AppError('VALIDATION_FAILED', 'Address the message: give contactId or to (a phone number).');
    }
    const phone = normalisePhone(body.to);
    const id = contactIdOf(ws, phone.waId);
    const key = contactCacheKey(ws, id);
    if (deps.caches.contacts.get(key)) return { _id: id, waId: phone.waId };
    // Sending to a new number creates its contact (the same `_id` whoever creates it first;
    // a duplicate means it exists, which is all a send needs to know).
    await repos.contacts.insertOnce(ws, withoutWorkspace(newContact(ws, phone, deps.now())));
    deps.caches.contacts.set(key, phone.waId);
    return { _id: id, waId: phone.waId };
  }

  async function senderNumber(ws: WorkspaceId, phoneNumberId: string | undefined): Promise<PhoneNumberDoc> {
    let connected = deps.caches.numbers.get(ws);
    if (!connected) {
      connected = await repos.phoneNumbers.find({ workspaceId: ws, status: 'connected' }, { limit: 100 });
      // Only a workspace with numbers is cached: connecting the first one takes effect at once.
      if (connected.length > 0) deps.caches.numbers.set(ws, connected);
    }
    const numbers = phoneNumberId ? connected.filter((n) => n._id === phoneNumberId) : connected;
    if (numbers.length === 1 && numbers[0]) return numbers[0];
    throw new AppError(
      'PHONE_NUMBER_NOT_CONNECTED',
      phoneNumberId
        ? `The number ${phoneNumberId} is not connected to this workspace; connect it with POST /api/v1/phone-numbers.`
        : numbers.length === 0
          ? 'This workspace has no connected WhatsApp number; connect one with POST /api/v1/phone-numbers.'
          : 'This workspace has several numbers; name the one to send from in phoneNumberId.',
    );
  }

  async function assertNotSuppressed(
    ws: WorkspaceId,
    waId: string,
    category: MessageCategory,
  ): Promise<void> {
    const check = await checkSuppression(deps.redis, {
      prefix: deps.prefix,
      workspaceId: ws,
      contacts: [waId],
      category,
    });
    // Redis does not hold the whole list (flushed, not yet rebuilt): ask the ledger's owner.
    const suppressed = check.ready
      ? check.suppressed[0]
      : (await deps.compliance.suppressed(ws, [waId], category))[0];
    if (suppressed) {
      throw new AppError(
        'CONTACT_OPTED_OUT',
        category === 'marketing'
          ? 'The contact opted out of marketing messages; only utility, authentication and service messages may go.'
          : 'The contact opted out of all messages; nothing may be sent until they opt in again.',
      );
    }
  }

  async function assertWindowOpen(phoneNumberId: string, waId: string): Promise<void> {
    const until = Number((await deps.redis.get(windowKey(deps.prefix, phoneNumberId, waId))) ?? 0);
    if (until <= deps.now().getTime()) {
      throw new AppError(
        'OUTSIDE_CUSTOMER_SERVICE_WINDOW',
        'The customer has not written in the last 24 hours, so only an approved template may be sent.',
      );
    }
  }

  /**
   * Enqueues (again: the job id is the message's, so a repeat is a no-op) and answers 202.
   * A failed enqueue leaves the message to the outbox sweep: it is stored, so it is accepted.
   */
  async function accept(m: MessageDoc) {
    if (!(await deps.outbox.enqueue([m]))) {
      app.log.warn({ messageId: m._id }, 'message stored but not enqueued; the outbox sweep enqueues it');
    }
    return { id: m._id, status: 'accepted' as const };
  }

  /**
   * A reaction names the message reacted to by its wapi id (`msg_…`) or its wamid; Meta
   * needs the wamid, of a message of this very conversation (§2.8).
   */
  async function reactionContent(
    ws: WorkspaceId,
    contact: Pick<ContactDoc, '_id'>,
    reaction: { wamid: string; emoji: string },
  ): Promise<SendContent> {
    const ref = reaction.wamid;
    let target: MessageDoc | null;
    if (/^msg_[A-Za-z0-9_-]{1,64}$/.test(ref)) {
      target = await repos.messages.findOne(ws, { _id: ref });
    } else {
      const mapped = (await states.resolveWamids(ws, [ref])).get(ref);
      const ids = [...(mapped ? [mapped] : []), inboundMessageId(ws, ref)];
      target = (await repos.messages.find(ws, { _id: { $in: ids } }))[0] ?? null;
    }
    // Its wamid arrives with its `sent` event, applied to the state, not to the document.
    if (target && !target.wamid) target = (await current(ws, [target]))[0] ?? target;
    if (!target) {
      throw new AppError(
        'REACTION_TARGET_INVALID',
        `No message ${ref} in this workspace; react to a message by its id (msg_…) or its wamid.`,
      );
    }
    if (target.contactId !== contact._id) {
      throw new AppError(
        'REACTION_TARGET_INVALID',
        'The message reacted to belongs to another conversation; send the reaction to its contact.',
      );
    }
    if (!target.wamid) {
      throw new AppError(
        'REACTION_TARGET_INVALID',
        'The message reacted to has not been sent yet (no wamid); react once its status is sent.',
      );
    }
    return { type: 'reaction', reaction: { wamid: target.wamid, emoji: reaction.emoji } };
  }

  /** Stores and enqueues a message with the others of this event-loop turn; answers 202. */
  async function committed(m: MessageDoc) {
    if (!(await deps.commit.commit(m))) {
      app.log.warn({ messageId: m._id }, 'message stored but not enqueued; the outbox sweep enqueues it');
    }
    return { id: m._id, status: 'accepted' as const };
  }

  /** The stored message of an Idempotency-Key: replayed for the same body, refused for another. */
  function replay(existing: MessageDoc, requestHash: string) {
    if (existing.requestHash !== requestHash) throw new AppError('IDEMPOTENCY_KEY_REUSED');
    return accept(existing);
  }

  /**
   * Checks one send (contact, number, suppression, window) and builds its document. Every
   * refusal is an AppError with a stable code. `numbers` memoises the sender lookup in a batch.
   */
  async function prepare(
    ws: WorkspaceId,
    body: ApiSendMessageRequest,
    id: string,
    requestHash: string | null,
    numbers?: Map<string, Promise<PhoneNumberDoc>>,
  ): Promise<MessageDoc> {
    const contact = await contactFor(ws, body);
    const numberKey = body.phoneNumberId ?? '';
    let lookup = numbers?.get(numberKey);
    if (!lookup) {
      lookup = senderNumber(ws, body.phoneNumberId);
      numbers?.set(numberKey, lookup);
    }
    const number = await lookup;
    let content: SendContent = body.content;
    // A template's category is the stored template's (Meta's review decided it), never the
    // caller's, so a marketing-only opt-out blocks exactly the marketing templates.
    let category: MessageCategory = 'service';
    if (content.type === 'template') {
      category = await deps.templates.checkSend(ws, content.template);
    } else if (content.type === 'reaction') {
      if (body.replyToWamid !== undefined)
        throw new AppError('VALIDATION_FAILED', 'A reaction cannot quote a message: leave out replyToWamid.');
      content = await reactionContent(ws, contact, content.reaction);
    }
    await assertNotSuppressed(ws, contact.waId, category);
    if (content.type !== 'template') await assertWindowOpen(number._id, contact.waId);
    const now = deps.now();
    return {
      _id: id,
      workspaceId: ws,
      direction: 'outbound',
      phoneNumberId: number._id,
      waId: contact.waId,
      contactId: contact._id,
      wamid: null,
      status: 'accepted',
      statusRank: 0,
      category,
      contentType: content.type,
      content,
      replyToWamid: body.replyToWamid ?? null,
      history: [{ status: 'accepted', at: now }],
      error: null,
      requestHash,
      createdAt: now,
    };
  }

  app.post(
    '/api/v1/messages',
    {
      config: { permission: 'messages:send', sendLimited: true },
      schema: {
        tags: ['messages'],
        headers: IdempotencyHeaders,
        body: ApiSendMessageRequest,
        response: { 202: MessageAccepted, ...errors },
      },
    },
    async (request, reply) => {
      const ws = asWorkspaceId(principalOf(request).workspaceId);
      const body = request.body;
      const key = request.headers['idempotency-key'];
      const requestHash = createHash('sha256').update(JSON.stringify(body)).digest('base64url');
      const id = key ? idempotentMessageId(ws, key) : `msg_${randomBase62(22)}`;
      reply.code(202);
      if (key) {
        const existing = await repos.messages.findOne(ws, { _id: id });
        if (existing) return replay(existing, requestHash);
      }
      const doc = await prepare(ws, body, id, requestHash);
      if (!key) return committed(doc);
      await deps.outbox.mark([doc]);
      // The natural `_id` makes concurrent retries of one key collide here: one insert wins,
      // the others answer with the winner's message.
      if (!(await repos.messages.insertOnce(ws, withoutWorkspace(doc)))) {
        const existing = await repos.messages.findOne(ws, { _id: id });
        if (!existing)
          throw new AppError('INTERNAL_ERROR', 'The message vanished while being accepted; retry.');
        return replay(existing, requestHash);
      }
      return accept(doc);
    },
  );

  app.post(
    '/api/v1/messages/send',
    {
      config: { permission: 'messages:send', sendLimited: true },
      schema: {
        tags: ['messages'],
        description: 'The compatibility form of POST /api/v1/messages: a text to a contact.',
        body: ApiSendTextRequest,
        response: { 202: MessageAccepted, ...errors },
      },
    },
    async (request, reply) => {
      const ws = asWorkspaceId(principalOf(request).workspaceId);
      const { contactId, body } = request.body;
      const doc = await prepare(
        ws,
        { contactId, content: { type: 'text', text: { body } } },
        `msg_${randomBase62(22)}`,
        null,
      );
      reply.code(202);
      return committed(doc);
    },
  );

  app.post(
    '/api/v1/messages/batch',
    {
      // 1,000 messages do not fit the API's default 256 KiB.
      bodyLimit: 4 * 1024 * 1024,
      config: { permission: 'messages:send', sendLimited: true },
      schema: {
        tags: ['messages'],
        headers: IdempotencyHeaders,
        body: ApiSendBatchRequest,
        response: { 202: ApiSendBatchResponse, ...errors },
      },
    },
    async (request, reply) => {
      const ws = asWorkspaceId(principalOf(request).workspaceId);
      const key = request.headers['idempotency-key'];
      const requestHash = createHash('sha256').update(JSON.stringify(request.body)).digest('base64url');
      reply.code(202);
      const answerOf = (batch: Pick<BatchDoc, 'results'>) => ({
        accepted: batch.results.filter((r) => 'id' in r).length,
        results: batch.results,
      });
      /** A recorded batch of this key: the same answer for the same body (re-enqueued), 422 for another. */
      const replayBatch = async (batch: BatchDoc) => {
        if (batch.requestHash !== requestHash) throw new AppError('IDEMPOTENCY_KEY_REUSED');
        const ids = batch.results.flatMap((r) => ('id' in r ? [r.id] : []));
        if (ids.length > 0) await deps.outbox.enqueue(await repos.messages.find(ws, { _id: { $in: ids } }));
        return answerOf(batch);
      };
      if (key) {
        const recorded = await repos.batches.findOne(ws, { _id: idempotentBatchId(ws, key) });
        if (recorded) return replayBatch(recorded);
      }
      const numbers = new Map<string, Promise<PhoneNumberDoc>>();
      const results = await Promise.all(
        request.body.messages.map(async (body, index) => {
          // With a key, message i of the batch has an id derived from (key, i): a retry after
          // a crash writes the same documents, never a second copy.
          const id = key ? idempotentBatchMessageId(ws, key, index) : `msg_${randomBase62(22)}`;
          try {
            return { index, doc: await prepare(ws, body, id, key ? requestHash : null, numbers) };
          } catch (error) {
            if (!(error instanceof AppError) || error.status >= 500) throw error;
            return { index, error: { code: error.code, message: error.message } };
          }
        }),
      );
      const docs = results.flatMap((r) => (r.doc ? [r.doc] : []));
      // One mark, one insert and one enqueue for the whole batch.
      if (docs.length > 0) {
        await deps.outbox.mark(docs);
        await repos.messages.insertMany(ws, docs.map(withoutWorkspace), {
          ignoreDuplicates: key !== undefined,
        });
        if (!(await deps.outbox.enqueue(docs))) {
          app.log.warn({ count: docs.length }, 'batch stored but not enqueued; the outbox sweep enqueues it');
        }
      }
      const batch = {
        results: results.map((r) =>
          r.doc
            ? { index: r.index, id: r.doc._id, status: 'accepted' as const }
            : { index: r.index, error: r.error! },
        ),
      };
      if (key) {
        const record: BatchDoc = {
          _id: idempotentBatchId(ws, key),
          workspaceId: ws,
          requestHash,
          results: batch.results,
          createdAt: deps.now(),
        };
        // Concurrent retries race here: the first record wins and every other answers it.
        if (!(await repos.batches.insertOnce(ws, withoutWorkspace(record)))) {
          const winner = await repos.batches.findOne(ws, { _id: record._id });
          if (winner) return replayBatch(winner);
        }
      }
      return answerOf(batch);
    },
  );

  app.get(
    '/api/v1/messages/:messageId',
    {
      config: { permission: 'messages:read' },
      schema: {
        tags: ['messages'],
        params: Type.Object({ messageId: MessageIdParam }),
        response: { 200: Message, ...errors },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const ws = asWorkspaceId(principal.workspaceId);
      const doc = await repos.messages.findOne(ws, { _id: request.params.messageId });
      if (!doc) throw new AppError('NOT_FOUND');
      // An agent sees the messages of the conversations assigned to them only.
      if (
        !seesAllConversations(principal) &&
        (await visibleContactIds(repos, principal, [doc.contactId])).size === 0
      )
        throw new AppError('NOT_FOUND');
      const [merged] = await current(ws, [doc]);
      return messageView(merged ?? doc);
    },
  );

  app.get(
    '/api/v1/messages',
    {
      config: { permission: 'messages:read' },
      schema: {
        tags: ['messages'],
        querystring: MessageListQuery,
        response: { 200: MessageList, ...errors },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const ws = asWorkspaceId(principal.workspaceId);
      const { wamid } = request.query;
      // By `_id` only: the wamid map (Redis, then `message_wamids`) for outbound messages, the
      // derived id for inbound ones.
      const mapped = (await states.resolveWamids(ws, [wamid])).get(wamid);
      const ids = [...(mapped ? [mapped] : []), inboundMessageId(ws, wamid)];
      const docs = await current(ws, await repos.messages.find(ws, { _id: { $in: ids } }));
      if (seesAllConversations(principal)) return { messages: docs.map(messageView) };
      const visible = await visibleContactIds(
        repos,
        principal,
        docs.map((d) => d.contactId),
      );
      return { messages: docs.filter((d) => visible.has(d.contactId)).map(messageView) };
    },
  );

  app.get(
    '/api/v1/contacts/:contactId/messages',
    {
      config: { permission: 'messages:read' },
      schema: {
        tags: ['messages'],
        params: Type.Object({ contactId: ContactIdParam }),
        response: { 200: Timeline, ...errors },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const ws = asWorkspaceId(principal.workspaceId);
      const contact = await repos.contacts.findOne(ws, { _id: request.params.contactId });
      if (!contact || !(seesAllConversations(principal) || contact.assigneeId === principal.id))
        throw new AppError('NOT_FOUND');
      const docs = await current(
        ws,
        await repos.messages.find(ws, { contactId: contact._id }, { sort: { createdAt: -1 }, limit: 100 }),
      );
      const numbers = await repos.phoneNumbers.find({ workspaceId: ws }, { limit: 100 });
      const windows = numbers.length
        ? await deps.redis.mget(numbers.map((n) => windowKey(deps.prefix, n._id, contact.waId)))
        : [];
      const until = Math.max(0, ...windows.map((w) => Number(w ?? 0)));
      return {
        messages: docs.reverse().map(messageView),
        windowExpiresAt: until > deps.now().getTime() ? new Date(until).toISOString() : null,
      };
    },
  );
}

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
  type Message,
  MessageAccepted,
  type MessageCategory,
  MessageIdParam,
  MessageList,
  MessageListQuery,
  Message as MessageSchema,
  type MessageSendV1,
  Timeline,
  windowKey,
} from '@wapi/contracts';
import { assertPayload, jobIdOf, type Producer, type ServiceApp } from '@wapi/service-kit';
import { asWorkspaceId, type WorkspaceId } from '@wapi/store';
import type { Redis } from 'ioredis';
import type { ComplianceClient } from '../data/compliance-client';
import { randomBase62 } from '../domain/ids';
import { principalOf } from '../plugins/auth';
import { newContact } from './contact-routes';
import { normalisePhone } from './phone';
import {
  type ContactDoc,
  idempotentMessageId,
  inboundMessageId,
  type MessageDoc,
  type MessagingRepositories,
  type PhoneNumberDoc,
  statusOf,
  withoutWorkspace,
} from './repositories';

const errors = { '4xx': ErrorResponse, '5xx': ErrorResponse } as const;

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
  history: [...m.history]
    .sort((a, b) => a.at.getTime() - b.at.getTime())
    .map((h) => ({ status: h.status, at: h.at.toISOString() })),
  error: m.error,
  createdAt: m.createdAt.toISOString(),
});

export interface MessageRouteDeps {
  repos: MessagingRepositories;
  redis: Redis;
  prefix: string;
  compliance: Pick<ComplianceClient, 'suppressed'>;
  /** The `message.send.v1` producer (created lazily by the caller). */
  sendQueue(): Producer<'message.send.v1'>;
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

  async function contactFor(ws: WorkspaceId, body: ApiSendMessageRequest): Promise<ContactDoc> {
    if (body.contactId !== undefined) {
      const contact = await repos.contacts.findOne(ws, { _id: body.contactId });
      if (!contact) throw new AppError('NOT_FOUND', 'No contact with this id in this workspace.');
      return contact;
    }
    if (body.to === undefined) {
      throw new AppError('VALIDATION_FAILED', 'Address the message: give contactId or to (a phone number).');
    }
    // Sending to a new number creates its contact (the same `_id` whoever creates it first).
    const doc = newContact(ws, normalisePhone(body.to), deps.now());
    if (await repos.contacts.insertOnce(ws, withoutWorkspace(doc))) return doc;
    return (await repos.contacts.findOne(ws, { _id: doc._id })) ?? doc;
  }

  async function senderNumber(ws: WorkspaceId, phoneNumberId: string | undefined): Promise<PhoneNumberDoc> {
    const numbers = await repos.phoneNumbers.find(
      { workspaceId: ws, status: 'connected', ...(phoneNumberId ? { _id: phoneNumberId } : {}) },
      { limit: 2 },
    );
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

  const jobOf = (m: MessageDoc): MessageSendV1 => ({
    workspaceId: m.workspaceId,
    messageId: m._id,
    phoneNumberId: m.phoneNumberId,
    to: m.waId,
    category: m.category,
    content: m.content as MessageSendV1['content'],
    ...(m.replyToWamid ? { replyToWamid: m.replyToWamid } : {}),
    acceptedAt: m.createdAt.toISOString(),
  });

  /** Enqueues (again: the job id is the message's, so a repeat is a no-op) and answers 202. */
  async function accept(m: MessageDoc) {
    await deps.sendQueue().add(jobOf(m), { jobId: jobIdOf(m.workspaceId, m._id) });
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
    const isTemplate = body.content.type === 'template';
    // Template categories live with the templates (issue #14); until then the caller may
    // say, and the default is the strictest (a marketing opt-out blocks it).
    const category: MessageCategory = isTemplate ? (body.category ?? 'marketing') : 'service';
    await assertNotSuppressed(ws, contact.waId, category);
    if (!isTemplate) await assertWindowOpen(number._id, contact.waId);
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
      contentType: body.content.type,
      content: body.content,
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
      await repos.messages.insertOne(ws, withoutWorkspace(doc));
      reply.code(202);
      return accept(doc);
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
        body: ApiSendBatchRequest,
        response: { 202: ApiSendBatchResponse, ...errors },
      },
    },
    async (request, reply) => {
      const ws = asWorkspaceId(principalOf(request).workspaceId);
      const numbers = new Map<string, Promise<PhoneNumberDoc>>();
      const results = await Promise.all(
        request.body.messages.map(async (body, index) => {
          try {
            return { index, doc: await prepare(ws, body, `msg_${randomBase62(22)}`, null, numbers) };
          } catch (error) {
            if (!(error instanceof AppError) || error.status >= 500) throw error;
            return { index, error: { code: error.code, message: error.message } };
          }
        }),
      );
      const docs = results.flatMap((r) => (r.doc ? [r.doc] : []));
      // One insert and one enqueue for the whole batch.
      if (docs.length > 0) {
        await repos.messages.insertMany(ws, docs.map(withoutWorkspace));
        const jobs = docs.map((m) => {
          const data = jobOf(m);
          assertPayload('message.send.v1', data);
          return { name: 'message.send.v1', data, opts: { jobId: jobIdOf(m.workspaceId, m._id) } };
        });
        await deps.sendQueue().queue.addBulk(jobs);
      }
      reply.code(202);
      return {
        accepted: docs.length,
        results: results.map((r) =>
          r.doc
            ? { index: r.index, id: r.doc._id, status: 'accepted' as const }
            : { index: r.index, error: r.error! },
        ),
      };
    },
  );

  app.get(
    '/api/v1/messages/:messageId',
    {
      config: { permission: 'messages:read' },
      schema: {
        tags: ['messages'],
        params: Type.Object({ messageId: MessageIdParam }),
        response: { 200: MessageSchema, ...errors },
      },
    },
    async (request) => {
      const ws = asWorkspaceId(principalOf(request).workspaceId);
      const doc = await repos.messages.findOne(ws, { _id: request.params.messageId });
      if (!doc) throw new AppError('NOT_FOUND');
      return messageView(doc);
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
      const ws = asWorkspaceId(principalOf(request).workspaceId);
      const { wamid } = request.query;
      // By `_id` only: the wamid map for outbound messages, the derived id for inbound ones.
      const mapped = await repos.wamids.findOne(ws, { _id: wamid });
      const ids = [...(mapped ? [mapped.messageId] : []), inboundMessageId(ws, wamid)];
      const docs = await repos.messages.find(ws, { _id: { $in: ids } });
      return { messages: docs.map(messageView) };
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
      const ws = asWorkspaceId(principalOf(request).workspaceId);
      const contact = await repos.contacts.findOne(ws, { _id: request.params.contactId });
      if (!contact) throw new AppError('NOT_FOUND');
      const docs = await repos.messages.find(
        ws,
        { contactId: contact._id },
        { sort: { createdAt: -1 }, limit: 100 },
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

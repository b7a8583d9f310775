import { randomUUID } from 'node:crypto';
import { Type } from '@sinclair/typebox';
import {
  ApiConsentChangeRequest,
  AppError,
  ConsentChangeResponse,
  Contact,
  ContactConsentResponse,
  ContactIdParam,
  ContactList,
  ContactListQuery,
  CreateContactRequest,
  ErrorResponse,
  NoContent,
  UpdateContactRequest,
} from '@wapi/contracts';
import type { ServiceApp } from '@wapi/service-kit';
import { asWorkspaceId, type WorkspaceId } from '@wapi/store';
import type { Redis } from 'ioredis';
import type { ComplianceClient } from '../data/compliance-client';
import { memberKey, type WorkspaceRepositories } from '../data/workspaces.repository';
import { type Principal, principalOf } from '../plugins/auth';
import { contactCacheKey, type SendCaches } from './hot-cache';
import { normalisePhone } from './phone';
import { type ContactDoc, contactIdOf, type MessagingRepositories, withoutWorkspace } from './repositories';
import { assignedKey, seesAllConversations } from './visibility';

const errors = { '4xx': ErrorResponse, '5xx': ErrorResponse } as const;
const IdParams = Type.Object({ contactId: ContactIdParam });
const Assignment = Type.Object(
  {
    contactId: Type.String(),
    assigneeId: Type.Union([Type.String(), Type.Null()], { description: 'the member (user id), or null' }),
  },
  { additionalProperties: false },
);

export const contactView = (c: ContactDoc): Contact => ({
  id: c._id,
  phone: c.phone,
  waId: c.waId,
  name: c.name,
  tags: c.tags,
  attributes: c.attributes,
  assigneeId: c.assigneeId ?? null,
  createdAt: c.createdAt.toISOString(),
  updatedAt: c.updatedAt.toISOString(),
});

const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A new contact document for `waId` (used by the API and by inbound messages). */
export function newContact(
  ws: string,
  phone: { phone: string; waId: string },
  now: Date,
  fields: {
    name?: string | undefined;
    tags?: string[] | undefined;
    attributes?: Record<string, string> | undefined;
  } = {},
): ContactDoc {
  return {
    _id: contactIdOf(ws, phone.waId),
    workspaceId: ws,
    phone: phone.phone,
    waId: phone.waId,
    name: fields.name ?? null,
    nameLower: fields.name?.toLowerCase() ?? null,
    tags: [...new Set(fields.tags ?? [])],
    attributes: fields.attributes ?? {},
    createdAt: now,
    updatedAt: now,
  };
}

/** Contacts: CRUD, `?phone=` lookup (by `_id`), tag and name filters, cursor pages. */
export function registerContactRoutes(
  app: ServiceApp,
  deps: {
    repos: MessagingRepositories;
    compliance: Pick<ComplianceClient, 'consent' | 'changeConsent'>;
    members: WorkspaceRepositories['members'];
    /** The send path's contact cache: a deleted contact leaves it at once (on this instance). */
    caches: SendCaches;
    redis: Redis;
    prefix: string;
    now(): Date;
  },
): void {
  const { contacts } = deps.repos;

  /** The contact, if the caller may see it (agents: only those assigned to them). */
  async function contactOf(ws: WorkspaceId, id: string, principal?: Principal): Promise<ContactDoc> {
    const doc = await contacts.findOne(ws, { _id: id });
    if (!doc || (principal && !seesAllConversations(principal) && doc.assigneeId !== principal.id))
      throw new AppError('NOT_FOUND');
    return doc;
  }

  /** Records the assignee on the contact and in the assignees' Redis sets (for live events). */
  async function assign(ws: WorkspaceId, contactId: string, userId: string | null) {
    const before = await contacts.findOneAndUpdate(
      ws,
      { _id: contactId },
      { $set: { assigneeId: userId, updatedAt: deps.now() } },
    );
    if (!before) throw new AppError('NOT_FOUND');
    const pipeline = deps.redis.pipeline();
    if (before.assigneeId && before.assigneeId !== userId)
      pipeline.srem(assignedKey(deps.prefix, ws, before.assigneeId), contactId);
    if (userId) pipeline.sadd(assignedKey(deps.prefix, ws, userId), contactId);
    await pipeline.exec();
    return { contactId, assigneeId: userId };
  }

  app.put(
    '/api/v1/contacts/:contactId/assignee/:userId',
    {
      config: { permission: 'conversations:assign' },
      schema: {
        tags: ['contacts'],
        description: 'Assigns the conversation with this contact to a member; agents see only theirs.',
        params: Type.Object({
          contactId: ContactIdParam,
          userId: Type.String({ minLength: 1, maxLength: 64 }),
        }),
        response: { 200: Assignment, ...errors },
      },
    },
    async (request) => {
      const ws = asWorkspaceId(principalOf(request).workspaceId);
      const { contactId, userId } = request.params;
      // The contact first: another workspace's contact is a 404 whatever the user.
      await contactOf(ws, contactId);
      if (!(await deps.members.findOne(ws, { _id: memberKey(ws, userId) })))
        throw new AppError('ASSIGNEE_NOT_MEMBER');
      return assign(ws, contactId, userId);
    },
  );

  app.delete(
    '/api/v1/contacts/:contactId/assignee',
    {
      config: { permission: 'conversations:assign' },
      schema: {
        tags: ['contacts'],
        description: 'Unassigns the conversation: only members who see every conversation see it.',
        params: IdParams,
        response: { 200: Assignment, ...errors },
      },
    },
    async (request) =>
      assign(asWorkspaceId(principalOf(request).workspaceId), request.params.contactId, null),
  );

  // Consent belongs to compliance (the ledger, the suppression list); gateway resolves the
  // contact in the caller's workspace first, so another workspace's contact is a 404.
  app.get(
    '/api/v1/contacts/:contactId/consent',
    {
      config: { permission: 'contacts:read' },
      schema: { tags: ['contacts'], params: IdParams, response: { 200: ContactConsentResponse, ...errors } },
    },
    async (request) => {
      const principal = principalOf(request);
      const ws = asWorkspaceId(principal.workspaceId);
      const contact = await contactOf(ws, request.params.contactId, principal);
      return deps.compliance.consent(ws, contact.waId);
    },
  );

  app.post(
    '/api/v1/contacts/:contactId/consent',
    {
      config: { permission: 'contacts:write' },
      schema: {
        tags: ['contacts'],
        params: IdParams,
        headers: Type.Object({
          'idempotency-key': Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
        }),
        body: ApiConsentChangeRequest,
        response: { 200: ConsentChangeResponse, ...errors },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const ws = asWorkspaceId(principal.workspaceId);
      const contact = await contactOf(ws, request.params.contactId, principal);
      const { signal, scope, note } = request.body;
      return deps.compliance.changeConsent({
        workspaceId: ws,
        contact: contact.waId,
        signal,
        scope,
        source: 'api',
        actor: { type: principal.type, id: principal.id },
        ...(note !== undefined ? { note } : {}),
        // A retry with the same key is the same change; without one each call is its own.
        idempotencyKey: request.headers['idempotency-key'] ?? randomUUID(),
      });
    },
  );

  app.post(
    '/api/v1/contacts',
    {
      config: { permission: 'contacts:write' },
      schema: { tags: ['contacts'], body: CreateContactRequest, response: { 201: Contact, ...errors } },
    },
    async (request, reply) => {
      const ws = asWorkspaceId(principalOf(request).workspaceId);
      const body = request.body;
      const doc = newContact(ws, normalisePhone(body.phone), deps.now(), body);
      // `_id` is derived from the number: the insert is the uniqueness check, even under a race.
      if (!(await contacts.insertOnce(ws, withoutWorkspace(doc))))
        throw new AppError('CONTACT_EXISTS', undefined, { id: doc._id });
      return reply.code(201).send(contactView(doc));
    },
  );

  app.get(
    '/api/v1/contacts',
    {
      config: { permission: 'contacts:read' },
      schema: {
        tags: ['contacts'],
        querystring: ContactListQuery,
        response: { 200: ContactList, ...errors },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const ws = asWorkspaceId(principal.workspaceId);
      const all = seesAllConversations(principal);
      const { phone, tag, q, cursor } = request.query;
      const limit = request.query.limit ?? 50;
      if (phone !== undefined) {
        const doc = await contacts.findOne(ws, { _id: contactIdOf(ws, normalisePhone(phone).waId) });
        const shown = doc && (all || doc.assigneeId === principal.id);
        return { contacts: shown ? [contactView(doc)] : [], nextCursor: null };
      }
      const docs = await contacts.find(
        ws,
        {
          ...(all ? {} : { assigneeId: principal.id }),
          ...(cursor ? { _id: { $gt: cursor } } : {}),
          ...(tag ? { tags: tag } : {}),
          ...(q ? { nameLower: { $regex: `^${escapeRegex(q.toLowerCase())}` } } : {}),
        },
        { sort: { _id: 1 }, limit: limit + 1 },
      );
      const page = docs.slice(0, limit);
      return {
        contacts: page.map(contactView),
        nextCursor: docs.length > limit ? (page.at(-1)?._id ?? null) : null,
      };
    },
  );

  app.get(
    '/api/v1/contacts/:contactId',
    {
      config: { permission: 'contacts:read' },
      schema: { tags: ['contacts'], params: IdParams, response: { 200: Contact, ...errors } },
    },
    async (request) => {
      const principal = principalOf(request);
      return contactView(
        await contactOf(asWorkspaceId(principal.workspaceId), request.params.contactId, principal),
      );
    },
  );

  app.patch(
    '/api/v1/contacts/:contactId',
    {
      config: { permission: 'contacts:write' },
      schema: {
        tags: ['contacts'],
        params: IdParams,
        body: UpdateContactRequest,
        response: { 200: Contact, ...errors },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const ws = asWorkspaceId(principal.workspaceId);
      const { name, tags, attributes } = request.body;
      const doc = await contacts.findOneAndUpdate(
        ws,
        {
          _id: request.params.contactId,
          ...(seesAllConversations(principal) ? {} : { assigneeId: principal.id }),
        },
        {
          $set: {
            updatedAt: deps.now(),
            ...(name !== undefined ? { name, nameLower: name?.toLowerCase() ?? null } : {}),
            ...(tags !== undefined ? { tags: [...new Set(tags)] } : {}),
            ...(attributes !== undefined ? { attributes } : {}),
          },
        },
        { returnDocument: 'after' },
      );
      if (!doc) throw new AppError('NOT_FOUND');
      return contactView(doc);
    },
  );

  app.delete(
    '/api/v1/contacts/:contactId',
    {
      config: { permission: 'contacts:delete' },
      schema: { tags: ['contacts'], params: IdParams, response: { 204: NoContent, ...errors } },
    },
    async (request, reply) => {
      const ws = asWorkspaceId(principalOf(request).workspaceId);
      deps.caches.contacts.delete(contactCacheKey(ws, request.params.contactId));
      if ((await contacts.deleteOne(ws, { _id: request.params.contactId })) === 0)
        throw new AppError('NOT_FOUND');
      return reply.code(204).send(null);
    },
  );
}

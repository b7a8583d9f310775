import { Type } from '@sinclair/typebox';
import {
  AddMemberRequest,
  ApiKeyIdParam,
  ApiKeyList,
  AppError,
  CreateApiKeyRequest,
  CreatedApiKey,
  ErrorResponse,
  Member,
  MemberList,
  NoContent,
  type Role,
  roleHas,
  UpdateMemberRequest,
  UpdateWorkspaceRequest,
  UserIdParam,
  Workspace,
} from '@wapi/contracts';
import type { ServiceApp } from '@wapi/service-kit';
import { asWorkspaceId } from '@wapi/store';
import type { ApiKeyDoc, ApiKeyRepository } from '../data/api-keys.repository';
import type { AuthCache } from '../data/auth-cache';
import type { IdentityRepositories } from '../data/identity.repository';
import { ownerGuard } from '../data/owners';
import {
  type MemberDoc,
  memberKey,
  type WorkspaceDoc,
  type WorkspaceRepositories,
} from '../data/workspaces.repository';
import { generateApiKey } from '../domain/api-key-format';
import { normaliseEmail, workspaceView } from '../domain/identity';
import { cachedWorkspace, type Principal, principalOf } from '../plugins/auth';
import type { LimitGate } from '../plugins/rate-limits';

const errors = { '4xx': ErrorResponse, '5xx': ErrorResponse } as const;

export interface WorkspaceRouteDeps {
  tenancy: WorkspaceRepositories;
  users: IdentityRepositories['users'];
  logins: IdentityRepositories['logins'];
  apiKeys: ApiKeyRepository;
  cache: AuthCache;
  now(): Date;
  sendLimitOf(workspace: Pick<WorkspaceDoc, 'plan' | 'sendsPerMinute'>): number;
  /** Told when a workspace's limits change, so this process stops refusing it from memory. */
  gate?: Pick<LimitGate, 'forget'>;
}

const memberView = (m: MemberDoc) => ({
  userId: m.userId,
  email: m.email,
  name: m.name,
  role: m.role,
  addedAt: m.addedAt.toISOString(),
});

const apiKeyView = (k: ApiKeyDoc) => ({
  id: k._id,
  name: k.name,
  role: k.role,
  hint: k.hint,
  createdAt: k.createdAt.toISOString(),
  lastUsedAt: k.lastUsedAt?.toISOString() ?? null,
  revokedAt: k.revokedAt?.toISOString() ?? null,
});

/** Only an owner may grant the owner role or change an owner (managers manage everyone else). */
function assertMayAssign(principal: Principal, from: Role | undefined, to: Role | undefined): void {
  if ((from === 'owner' || to === 'owner') && principal.role !== 'owner') {
    throw new AppError('PERMISSION_DENIED', 'Only an owner may grant the owner role or change an owner.');
  }
}

/** The token's workspace, its members and its API keys. */
export function registerWorkspaceRoutes(app: ServiceApp, deps: WorkspaceRouteDeps): void {
  const { tenancy } = deps;

  async function memberOf(ws: string, userId: string): Promise<MemberDoc> {
    const member = await tenancy.members.findOne(asWorkspaceId(ws), { _id: memberKey(ws, userId) });
    if (!member) throw new AppError('NOT_FOUND');
    return member;
  }

  // The last-owner rule, race-free: see data/owners.ts.
  const owners = ownerGuard(tenancy);

  app.get(
    '/api/v1/workspace',
    {
      config: { permission: 'workspace:read' },
      schema: { tags: ['workspace'], response: { 200: Workspace, ...errors } },
    },
    async (request) => {
      // From the cached record authentication already read: no database round trip.
      const { workspaceId, limits } = principalOf(request);
      return {
        id: workspaceId,
        name: limits.name,
        plan: limits.plan,
        sendsPerMinute: deps.sendLimitOf(limits),
        createdAt: limits.createdAt,
      };
    },
  );

  app.patch(
    '/api/v1/workspace',
    {
      config: { permission: 'workspace:manage' },
      schema: { tags: ['workspace'], body: UpdateWorkspaceRequest, response: { 200: Workspace, ...errors } },
    },
    async (request) => {
      const principal = principalOf(request);
      const { name, plan, sendsPerMinute } = request.body;
      if (
        (plan !== undefined || sendsPerMinute !== undefined) &&
        !roleHas(principal.role, 'billing:manage')
      ) {
        throw new AppError(
          'PERMISSION_DENIED',
          'Changing the plan or limits needs the permission billing:manage.',
        );
      }
      const doc = await tenancy.workspaces.findOneAndUpdate(
        { _id: principal.workspaceId },
        {
          $set: {
            ...(name !== undefined ? { name } : {}),
            ...(plan !== undefined ? { plan } : {}),
            ...(sendsPerMinute !== undefined ? { sendsPerMinute } : {}),
          },
        },
        { returnDocument: 'after' },
      );
      if (!doc) throw new AppError('NOT_FOUND');
      await deps.cache.setLimits(doc._id, cachedWorkspace(doc));
      deps.gate?.forget(doc._id);
      return workspaceView(doc, deps.sendLimitOf(doc));
    },
  );

  app.get(
    '/api/v1/members',
    {
      config: { permission: 'members:read' },
      schema: { tags: ['members'], response: { 200: MemberList, ...errors } },
    },
    async (request) => {
      const ws = principalOf(request).workspaceId;
      const members = await tenancy.members.find(
        asWorkspaceId(ws),
        {},
        { sort: { addedAt: 1 }, limit: 1_000 },
      );
      return { members: members.map(memberView) };
    },
  );

  app.post(
    '/api/v1/members',
    {
      config: { permission: 'members:manage' },
      schema: { tags: ['members'], body: AddMemberRequest, response: { 201: Member, ...errors } },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      const ws = principal.workspaceId;
      assertMayAssign(principal, undefined, request.body.role);
      const login = await deps.logins.findOne({ _id: normaliseEmail(request.body.email) });
      const user = login ? await deps.users.findOne({ _id: login.userId }) : null;
      if (!user)
        throw new AppError(
          'NOT_FOUND',
          'No account has this e-mail address; ask the person to sign up first.',
        );
      const member: MemberDoc = {
        _id: memberKey(ws, user._id),
        workspaceId: ws,
        userId: user._id,
        email: user.email,
        name: user.name,
        role: request.body.role,
        addedAt: deps.now(),
      };
      const { workspaceId: _, ...doc } = member;
      if (!(await tenancy.members.insertOnce(asWorkspaceId(ws), doc))) {
        throw new AppError(
          'VALIDATION_FAILED',
          'This person is already a member; change their role instead.',
        );
      }
      if (member.role === 'owner') await owners.grant(ws, user._id);
      await deps.users.updateOne({ _id: user._id }, { $addToSet: { workspaceIds: ws } });
      await deps.cache.setMember(ws, user._id, member.role);
      return reply.code(201).send(memberView(member));
    },
  );

  const MemberParams = Type.Object({ userId: UserIdParam }, { additionalProperties: false });

  app.get(
    '/api/v1/members/:userId',
    {
      config: { permission: 'members:read' },
      schema: { tags: ['members'], params: MemberParams, response: { 200: Member, ...errors } },
    },
    async (request) => memberView(await memberOf(principalOf(request).workspaceId, request.params.userId)),
  );

  app.patch(
    '/api/v1/members/:userId',
    {
      config: { permission: 'members:manage' },
      schema: {
        tags: ['members'],
        params: MemberParams,
        body: UpdateMemberRequest,
        response: { 200: Member, ...errors },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const ws = principal.workspaceId;
      const member = await memberOf(ws, request.params.userId);
      const role = request.body.role;
      assertMayAssign(principal, member.role, role);
      // Owner set first when giving the role up, member first when taking it (owners.ts).
      if (member.role === 'owner' && role !== 'owner') await owners.release(ws, member.userId);
      await tenancy.members.updateOne(asWorkspaceId(ws), { _id: member._id }, { $set: { role } });
      if (role === 'owner' && member.role !== 'owner') await owners.grant(ws, member.userId);
      await deps.cache.setMember(ws, member.userId, role);
      return memberView({ ...member, role });
    },
  );

  app.delete(
    '/api/v1/members/:userId',
    {
      config: { permission: 'members:manage' },
      schema: { tags: ['members'], params: MemberParams, response: { 204: NoContent, ...errors } },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      const ws = principal.workspaceId;
      const member = await memberOf(ws, request.params.userId);
      assertMayAssign(principal, member.role, undefined);
      if (member.role === 'owner') await owners.release(ws, member.userId);
      await tenancy.members.deleteOne(asWorkspaceId(ws), { _id: member._id });
      await deps.users.updateOne({ _id: member.userId }, { $pull: { workspaceIds: ws } });
      // At once, not after the cache TTL: the removed member's tokens stop opening the workspace.
      await deps.cache.setMember(ws, member.userId, null);
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/api/v1/api-keys',
    {
      config: { permission: 'api_keys:read' },
      schema: { tags: ['api-keys'], response: { 200: ApiKeyList, ...errors } },
    },
    async (request) => {
      const keys = await deps.apiKeys.find(
        { workspaceId: principalOf(request).workspaceId },
        { limit: 1_000 },
      );
      return { apiKeys: keys.map(apiKeyView) };
    },
  );

  app.post(
    '/api/v1/api-keys',
    {
      config: { permission: 'api_keys:manage' },
      schema: { tags: ['api-keys'], body: CreateApiKeyRequest, response: { 201: CreatedApiKey, ...errors } },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      assertMayAssign(principal, undefined, request.body.role);
      const generated = generateApiKey();
      const doc: ApiKeyDoc = {
        _id: generated.id,
        workspaceId: principal.workspaceId,
        name: request.body.name,
        role: request.body.role,
        hash: generated.hash,
        hint: generated.hint,
        createdAt: deps.now(),
        lastUsedAt: null,
        revokedAt: null,
      };
      await deps.apiKeys.insertOne(doc);
      return reply.code(201).send({ apiKey: apiKeyView(doc), key: generated.key });
    },
  );

  const KeyParams = Type.Object({ keyId: ApiKeyIdParam }, { additionalProperties: false });

  app.get(
    '/api/v1/api-keys/:keyId',
    {
      config: { permission: 'api_keys:read' },
      schema: {
        tags: ['api-keys'],
        params: KeyParams,
        response: { 200: CreatedApiKey.properties.apiKey, ...errors },
      },
    },
    async (request) => {
      const key = await deps.apiKeys.findOne({
        _id: request.params.keyId,
        workspaceId: principalOf(request).workspaceId,
      });
      if (!key) throw new AppError('NOT_FOUND');
      return apiKeyView(key);
    },
  );

  app.delete(
    '/api/v1/api-keys/:keyId',
    {
      config: { permission: 'api_keys:manage' },
      schema: { tags: ['api-keys'], params: KeyParams, response: { 204: NoContent, ...errors } },
    },
    async (request, reply) => {
      const ws = principalOf(request).workspaceId;
      const key = await deps.apiKeys.findOneAndUpdate(
        { _id: request.params.keyId, workspaceId: ws },
        { $set: { revokedAt: deps.now() } },
        { returnDocument: 'after' },
      );
      if (!key) throw new AppError('NOT_FOUND');
      // The cache answers authentication: revoke there first-class, not after its TTL.
      await deps.cache.setApiKey(key._id, { workspaceId: ws, role: key.role, hash: key.hash, revoked: true });
      return reply.code(204).send(null);
    },
  );
}

import {
  AppError,
  ErrorResponse,
  LoginRequest,
  MeResponse,
  NoContent,
  permissionsOf,
  RefreshRequest,
  SignupRequest,
  SignupResponse,
  TokenResponse,
} from '@wapi/contracts';
import type { ServiceApp } from '@wapi/service-kit';
import { asWorkspaceId } from '@wapi/store';
import type { IdentityRepositories } from '../data/identity.repository';
import { memberKey, type WorkspaceRepositories } from '../data/workspaces.repository';
import type { Identity } from '../domain/identity';
import { principalOf } from '../plugins/auth';

const errors = { '4xx': ErrorResponse, '5xx': ErrorResponse } as const;

/** Sign-up, login, refresh, logout, me. */
export function registerAuthRoutes(
  app: ServiceApp,
  deps: { identity: Identity; users: IdentityRepositories['users']; tenancy: WorkspaceRepositories },
): void {
  app.post(
    '/api/v1/auth/signup',
    {
      config: { permission: 'public' },
      schema: {
        tags: ['auth'],
        security: [],
        body: SignupRequest,
        response: { 201: SignupResponse, ...errors },
      },
    },
    async (request, reply) => reply.code(201).send(await deps.identity.signup(request.body)),
  );

  app.post(
    '/api/v1/auth/login',
    {
      config: { permission: 'public' },
      schema: {
        tags: ['auth'],
        security: [],
        body: LoginRequest,
        response: { 200: TokenResponse, ...errors },
      },
    },
    async (request, reply) => {
      try {
        return await deps.identity.login(request.body, request.clientIp);
      } catch (error) {
        if (error instanceof AppError && error.code === 'LOGIN_THROTTLED') {
          reply.header('retry-after', String(error.details?.retryAfter ?? 1));
        }
        throw error;
      }
    },
  );

  app.post(
    '/api/v1/auth/refresh',
    {
      config: { permission: 'public' },
      schema: {
        tags: ['auth'],
        security: [],
        body: RefreshRequest,
        response: { 200: TokenResponse, ...errors },
      },
    },
    async (request) => deps.identity.refresh(request.body.refreshToken),
  );

  app.post(
    '/api/v1/auth/logout',
    {
      config: { permission: 'authenticated' },
      schema: { tags: ['auth'], response: { 204: NoContent, ...errors } },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      if (principal.sid) await deps.identity.logout(principal.sid);
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/api/v1/auth/me',
    {
      config: { permission: 'authenticated' },
      schema: { tags: ['auth'], response: { 200: MeResponse, ...errors } },
    },
    async (request) => {
      const principal = principalOf(request);
      const base = {
        principal: { type: principal.type, id: principal.id },
        workspaceId: principal.workspaceId,
        role: principal.role,
        permissions: permissionsOf(principal.role),
      };
      if (principal.type === 'api_key') return { ...base, workspaces: [] };
      const user = await deps.users.findOne({ _id: principal.id });
      if (!user) throw new AppError('AUTH_INVALID');
      const workspaces = await Promise.all(
        user.workspaceIds.map(async (id) => {
          const member = await deps.tenancy.members.findOne(asWorkspaceId(id), {
            _id: memberKey(id, user._id),
          });
          return member ? { id, role: member.role } : undefined;
        }),
      );
      return {
        ...base,
        user: { id: user._id, email: user.email, name: user.name },
        workspaces: workspaces.filter((w) => w !== undefined),
      };
    },
  );
}

import fastifyJwt from '@fastify/jwt';
import { AppError, type Permission, type Role, type RouteAccess, roleHas } from '@wapi/contracts';
import type { ServiceApp } from '@wapi/service-kit';
import { asWorkspaceId } from '@wapi/store';
import type { FastifyRequest } from 'fastify';
import type { Config } from '../config';
import type { ApiKeyRepository } from '../data/api-keys.repository';
import type { AuthCache, WorkspaceLimits } from '../data/auth-cache';
import { memberKey, type WorkspaceDoc, type WorkspaceRepositories } from '../data/workspaces.repository';
import { type AccessClaims, accessTokenKeys } from '../domain/access-token';
import { API_KEY_PREFIX, hashApiKey, parseApiKey, sameHash } from '../domain/api-key-format';
import { clientIp, parseTrustProxy } from '../domain/client-ip';
import { type LimitGate, type Refusal, sendRefusal } from './rate-limits';

/** Who is calling, in which workspace, as which role. */
export interface Principal {
  type: 'user' | 'api_key';
  /** The user id or the API key id. */
  id: string;
  workspaceId: string;
  role: Role;
  /** The session (refresh-token family) of a user's access token. */
  sid?: string;
  limits: WorkspaceLimits;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** What the route requires: a permission, `authenticated` (any member) or `public`. */
    permission?: RouteAccess;
  }
  interface FastifyRequest {
    principal?: Principal;
    /**
     * The client's address: the TCP peer, or what trusted proxies report in
     * `X-Forwarded-For` (GATEWAY_TRUST_PROXY). Login throttling and per-IP limits key on it.
     */
    readonly clientIp: string;
  }
  interface FastifyInstance {
    /** Every route under /api/v1 with what it declares (read by the generated permission and BOLA tests). */
    apiRoutes: ApiRoute[];
  }
}

/** One public API route as declared. */
export interface ApiRoute {
  method: string;
  url: string;
  permission: RouteAccess | undefined;
  /** Path parameter names (`:userId` -> `userId`). */
  params: string[];
  hasBody: boolean;
}

declare module '@fastify/jwt' {
  interface FastifyJWT {
    payload: AccessClaims;
    user: AccessClaims;
  }
}

/**
 * Awaits `work`; a failure that is not ours (Redis or MongoDB unreachable) becomes 503
 * DEPENDENCY_UNAVAILABLE, so a client retries instead of reporting a 500.
 */
export async function dependency<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (error) {
    if (error instanceof AppError) throw error;
    throw new AppError('DEPENDENCY_UNAVAILABLE', undefined, { cause: String(error) });
  }
}

/** Routes under this prefix are the public API: each must declare its permission. */
export const API_PREFIX = '/api/v1';

/** The principal of an authenticated request (a route declaring a permission always has one). */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new AppError('AUTH_REQUIRED');
  return request.principal;
}

export interface AuthDeps {
  config: Config;
  cache: AuthCache;
  repos: WorkspaceRepositories;
  apiKeys: ApiKeyRepository;
  /** Refuses a workspace already known to be over its limit before any lookup (rate-limits.ts). */
  gate?: LimitGate;
}

/** What the cache holds of a workspace. */
export function cachedWorkspace(doc: WorkspaceDoc): WorkspaceLimits {
  return {
    name: doc.name,
    plan: doc.plan,
    sendsPerMinute: doc.sendsPerMinute,
    createdAt: doc.createdAt.toISOString(),
  };
}

/** The workspace (limits, name) from the cache, else from the database (and then cached). */
export async function loadLimits(
  deps: AuthDeps,
  ws: string,
  cached?: WorkspaceLimits,
): Promise<WorkspaceLimits> {
  if (cached) return cached;
  const doc = await deps.repos.workspaces.findOne({ _id: ws });
  if (!doc) throw new AppError('AUTH_INVALID');
  const limits = cachedWorkspace(doc);
  await deps.cache.setLimits(ws, limits);
  return limits;
}

/** Who is calling, or the refusal to answer because its workspace is known to be over its limit. */
type Authenticated = Principal | { refusal: Refusal };

async function authenticateUser(deps: AuthDeps, request: FastifyRequest): Promise<Authenticated> {
  let claims: AccessClaims;
  try {
    claims = await request.jwtVerify<AccessClaims>();
  } catch {
    throw new AppError('AUTH_INVALID');
  }
  const { sub, ws, sid } = claims;
  if (typeof sub !== 'string' || typeof ws !== 'string' || typeof sid !== 'string')
    throw new AppError('AUTH_INVALID');
  // The workspace is named by a token whose signature was just verified: a workspace known to
  // be over its limit is answered now, before the session lookup (see createLimitGate).
  const refusal = deps.gate?.knownSpent(request, ws);
  if (refusal) return { refusal };
  const state = await deps.cache.sessionState(ws, sub, sid);
  if (state.revoked) throw new AppError('AUTH_INVALID');
  let role = state.role;
  if (role === undefined) {
    const member = await deps.repos.members.findOne(asWorkspaceId(ws), { _id: memberKey(ws, sub) });
    role = member?.role ?? null;
    await deps.cache.setMember(ws, sub, role);
  }
  // Removed from the workspace since the token was issued: the token no longer opens it.
  if (role === null) throw new AppError('AUTH_INVALID');
  return {
    type: 'user',
    id: sub,
    workspaceId: ws,
    role,
    sid,
    limits: await loadLimits(deps, ws, state.limits),
  };
}

async function authenticateApiKey(
  deps: AuthDeps,
  request: FastifyRequest,
  key: string,
): Promise<Authenticated> {
  const id = parseApiKey(key);
  if (!id) throw new AppError('AUTH_INVALID');
  let { key: cached, limits } = await deps.cache.apiKeyState(id);
  if (!cached) {
    const doc = await deps.apiKeys.findOne({ _id: id });
    if (!doc) throw new AppError('AUTH_INVALID');
    cached = {
      workspaceId: doc.workspaceId,
      role: doc.role,
      hash: doc.hash,
      revoked: doc.revokedAt !== null,
    };
    await deps.cache.setApiKey(id, cached);
  }
  if (cached.revoked || !sameHash(cached.hash, hashApiKey(key))) throw new AppError('AUTH_INVALID');
  const refusal = deps.gate?.knownSpent(request, cached.workspaceId);
  if (refusal) return { refusal };
  limits ??= await deps.cache.limitsOf(cached.workspaceId);
  if (await deps.cache.shouldTouch(id)) {
    // Not awaited: the request does not wait for a bookkeeping write.
    deps.apiKeys.updateOne({ _id: id }, { $set: { lastUsedAt: new Date() } }).catch((error: unknown) => {
      request.log.warn({ err: error, keyId: id }, 'could not record the API key’s lastUsedAt');
    });
  }
  return {
    type: 'api_key',
    id,
    workspaceId: cached.workspaceId,
    role: cached.role,
    limits: await loadLimits(deps, cached.workspaceId, limits),
  };
}

/**
 * Authentication and authorisation for every route under `/api/v1`: each declares
 * `config.permission`; a route without one is refused (fail closed) and the generated
 * permission test names it. `Authorization: Bearer <JWT>` or `Bearer wapi_…` (an API key,
 * which acts exactly like a user of its role).
 */
export async function registerAuth(app: ServiceApp, deps: AuthDeps): Promise<void> {
  const { config } = deps;
  await app.register(fastifyJwt, {
    secret: accessTokenKeys(config.ACCESS_TOKEN_PRIVATE_KEY),
    sign: {
      algorithm: 'EdDSA',
      iss: config.ACCESS_TOKEN_ISSUER,
      aud: config.ACCESS_TOKEN_AUDIENCE,
      expiresIn: '15m',
    },
    verify: {
      algorithms: ['EdDSA'],
      allowedIss: config.ACCESS_TOKEN_ISSUER,
      allowedAud: config.ACCESS_TOKEN_AUDIENCE,
      requiredClaims: ['exp', 'iat', 'sub', 'iss', 'aud'],
      // Verified tokens are remembered (fast-jwt's LRU, keyed by a hash of the whole token,
      // each entry valid only until the token's exp): a client's next call with the same
      // token skips the Ed25519 verification. A token that failed is not remembered.
      cache: 10_000,
    },
  });

  const trust = parseTrustProxy(config.GATEWAY_TRUST_PROXY);
  app.decorateRequest('clientIp', {
    getter(this: FastifyRequest) {
      return clientIp(this.ip, this.headers['x-forwarded-for'], trust);
    },
  });

  const apiRoutes: ApiRoute[] = [];
  app.decorate('apiRoutes', apiRoutes);
  app.addHook('onRoute', (route) => {
    if (!route.url.startsWith(API_PREFIX)) return;
    for (const method of [route.method].flat()) {
      if (method === 'HEAD') continue;
      apiRoutes.push({
        method,
        url: route.url,
        permission: route.config?.permission,
        params: [...route.url.matchAll(/:([A-Za-z0-9_]+)/g)].map((m) => m[1]!),
        hasBody: route.schema?.body !== undefined,
      });
    }
  });

  app.addHook('onRequest', async (request, reply) => {
    const url = request.routeOptions.url;
    if (url === undefined || !url.startsWith(API_PREFIX)) return;
    const access = request.routeOptions.config.permission;
    if (access === undefined) throw new AppError('PERMISSION_DENIED', 'This route declares no permission.');
    if (access === 'public') return;
    const header = request.headers.authorization;
    if (!header) throw new AppError('AUTH_REQUIRED');
    const match = /^Bearer ([^\s]+)$/i.exec(header);
    if (!match) throw new AppError('AUTH_INVALID');
    const token = match[1]!;
    const outcome = await dependency(
      token.startsWith(API_KEY_PREFIX)
        ? authenticateApiKey(deps, request, token)
        : authenticateUser(deps, request),
    );
    if ('refusal' in outcome) return sendRefusal(request, reply, outcome.refusal);
    request.principal = outcome;
    if (access !== 'authenticated' && !roleHas(request.principal.role, access as Permission)) {
      throw new AppError(
        'PERMISSION_DENIED',
        `Your role (${request.principal.role}) lacks the permission ${access}.`,
      );
    }
  });
}

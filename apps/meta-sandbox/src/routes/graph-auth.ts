import type { FastifyRequest } from 'fastify';
import { GraphError, unknownObject } from '../domain/graph-error';
import { createHourlyCallLimiter as createLimiter } from '../domain/rate-limiters';
import type { AccessToken, PhoneNumber, Waba } from '../domain/world';
import type { Sandbox } from '../sandbox';

/** The token a Graph request authenticated with, set by the plugin's auth hook. */
const tokens = new WeakMap<FastifyRequest, AccessToken>();

/** Bearer header or `access_token` query parameter (§1.2: the emulator accepts both). */
export function presentedToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (typeof header === 'string') {
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (match) return match[1];
  }
  const query = request.query as Record<string, unknown> | undefined;
  const fromQuery = query?.access_token;
  return typeof fromQuery === 'string' && fromQuery.length > 0 ? fromQuery : undefined;
}

/** §12: unknown, expired or revoked token → 401 code 190. */
export function authenticate(sandbox: Sandbox, request: FastifyRequest): AccessToken {
  const value = presentedToken(request);
  if (!value)
    throw new GraphError(190, 'An active access token must be used to query information.', { http: 401 });
  const token = sandbox.world.tokens.get(value);
  if (!token || token.revoked)
    throw new GraphError(190, 'The access token could not be decrypted or has been revoked.', { http: 401 });
  if (token.expiresAt !== undefined && token.expiresAt <= sandbox.now())
    throw new GraphError(190, 'Error validating access token: Session has expired.', { http: 401 });
  tokens.set(request, token);
  return token;
}

export function tokenOf(request: FastifyRequest): AccessToken {
  const token = tokens.get(request);
  if (!token) throw new GraphError(190, 'An active access token must be used to query information.');
  return token;
}

export function canAccessWaba(token: AccessToken, wabaId: string): boolean {
  return token.kind === 'system' || token.wabaIds.includes(wabaId);
}

/** §12: a token without access to the asset → 403 code 200. */
export function requireWaba(sandbox: Sandbox, request: FastifyRequest, wabaId: string): Waba {
  const waba = sandbox.world.wabas.get(wabaId);
  if (!waba) throw unknownObject(request.method, wabaId);
  if (!canAccessWaba(tokenOf(request), wabaId))
    throw new GraphError(200, 'The access token does not have access to this WhatsApp Business Account.');
  return waba;
}

export function requireNumber(sandbox: Sandbox, request: FastifyRequest, phoneNumberId: string): PhoneNumber {
  const number = sandbox.world.numbers.get(phoneNumberId);
  if (!number) throw unknownObject(request.method, phoneNumberId);
  if (!canAccessWaba(tokenOf(request), number.wabaId))
    throw new GraphError(200, 'The access token does not have access to this phone number.');
  return number;
}

/**
 * Management calls per app × WABA in a rolling hour (§5.4): 200, or 5,000 when the WABA has a
 * registered number; above it → 80007.
 */
export function countManagementCall(sandbox: Sandbox, request: FastifyRequest, waba: Waba): void {
  const appId = tokenOf(request).appId;
  let limiter = waba.callLimiters.get(appId);
  if (!limiter) {
    limiter = createLimiter();
    waba.callLimiters.set(appId, limiter);
  }
  const active = [...sandbox.world.numbers.values()].some((n) => n.wabaId === waba.id && n.registered);
  if (!limiter.tryTake(sandbox.now(), active ? 5_000 : 200))
    throw new GraphError(80007, 'The WhatsApp Business Account has reached its rate limit.');
}

/** `v21.0` → 21. */
export function versionNumber(version: string): number {
  return Number(/^v(\d{1,2})\.0$/.exec(version)?.[1] ?? 0);
}

import type { FastifyRequest } from 'fastify';
import { GraphError, unknownObject } from '../domain/graph-error';
import { takeManagementCall } from '../domain/management-calls';
import type { Clock } from '../domain/ports';
import { DEFAULT_GRAPH_MAJOR } from '../domain/versions';
import type { AccessToken, PhoneNumber, Waba, World } from '../domain/world';

/** What Graph's authentication and asset checks read: the world's tokens and assets, the time. */
export interface GraphAccess {
  world: World;
  clock: Clock;
}

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

/**
 * §1.2 / §12: a missing, unknown, revoked or expired token → 401 code 190. These come from
 * Graph's OAuth layer, not from WhatsApp: the message is plain text (no `(#190)` prefix) and
 * there is no `error_data` (docs/meta-platform.md §1.3).
 */
export function authenticate(access: GraphAccess, request: FastifyRequest): AccessToken {
  const value = presentedToken(request);
  if (!value)
    throw oauthError('An active access token must be used to query information about this resource.');
  const token = access.world.tokens.get(value);
  if (!token) throw oauthError('Invalid OAuth access token - Cannot parse access token');
  if (token.revoked)
    throw oauthError(
      'Error validating access token: The session has been invalidated because the user changed their password or Facebook has changed the session for security reasons.',
      460,
    );
  const now = access.clock.now();
  if (token.expiresAt !== undefined && token.expiresAt <= now)
    throw oauthError(
      `Error validating access token: Session has expired on ${graphDate(token.expiresAt)}. The current time is ${graphDate(now)}.`,
      463,
    );
  tokens.set(request, token);
  return token;
}

function oauthError(message: string, subcode?: number): GraphError {
  return new GraphError(190, message, {
    http: 401,
    message,
    withoutErrorData: true,
    ...(subcode === undefined ? {} : { subcode }),
  });
}

/** `Tuesday, 10-Oct-23 08:00:00 UTC`, the date form of Graph's token messages (in UTC here). */
function graphDate(ms: number): string {
  const d = new Date(ms);
  const day = d.toLocaleDateString('en-US', { weekday: 'long', timeZone: 'UTC' });
  const month = d.toLocaleDateString('en-US', { month: 'short', timeZone: 'UTC' });
  const two = (n: number) => String(n).padStart(2, '0');
  return `${day}, ${two(d.getUTCDate())}-${month}-${two(d.getUTCFullYear() % 100)} ${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} UTC`;
}

export function tokenOf(request: FastifyRequest): AccessToken {
  const token = tokens.get(request);
  if (!token)
    throw oauthError('An active access token must be used to query information about this resource.');
  return token;
}

/** The Graph version (major) each request is answered as, set by the plugin's version hook. */
const versions = new WeakMap<FastifyRequest, number>();

export function setGraphVersion(request: FastifyRequest, major: number): void {
  versions.set(request, major);
}

/** The version the request is answered as (§1.1): its path's, upgraded or defaulted. */
export function graphVersion(request: FastifyRequest): number {
  return versions.get(request) ?? DEFAULT_GRAPH_MAJOR;
}

export function canAccessWaba(token: AccessToken, wabaId: string): boolean {
  return token.kind === 'system' || token.wabaIds.includes(wabaId);
}

/** §12: a token without access to the asset → 403 code 200. */
export function requireWaba(access: GraphAccess, request: FastifyRequest, wabaId: string): Waba {
  const waba = access.world.wabas.get(wabaId);
  if (!waba) throw unknownObject(request.method, wabaId);
  if (!canAccessWaba(tokenOf(request), wabaId))
    throw new GraphError(200, 'The access token does not have access to this WhatsApp Business Account.');
  return waba;
}

export function requireNumber(
  access: GraphAccess,
  request: FastifyRequest,
  phoneNumberId: string,
): PhoneNumber {
  const number = access.world.numbers.get(phoneNumberId);
  if (!number) throw unknownObject(request.method, phoneNumberId);
  if (!canAccessWaba(tokenOf(request), number.wabaId))
    throw new GraphError(200, 'The access token does not have access to this phone number.');
  return number;
}

/** Counts a management call of the request's app on `waba` (§5.4; see `takeManagementCall`). */
export function countManagementCall(access: GraphAccess, request: FastifyRequest, waba: Waba): void {
  takeManagementCall(access.world, waba, tokenOf(request).appId, access.clock.now());
}

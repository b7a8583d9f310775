import { keyOf, type Role } from '@wapi/contracts';
import type { Redis } from 'ioredis';

/**
 * What authentication reads on every request, cached in Redis so a request costs one
 * round trip (MGET) and no database lookup (FerretDB scans even for `_id`). All keys are in
 * the `gw-auth` family (one hash tag), so one MGET may read them together.
 */
/** The workspace as cached: its limits (read on every request) and what `GET /workspace` shows. */
export interface WorkspaceLimits {
  name: string;
  plan: 'free' | 'pro';
  sendsPerMinute: number | null;
  createdAt: string;
}

export interface CachedApiKey {
  workspaceId: string;
  role: Role;
  hash: string;
  revoked: boolean;
}

const TTL_SECONDS = 300;
/** A revoked session's marker outlives every access token of it. */
const REVOKED_TTL_SECONDS = 16 * 60;
const NOT_A_MEMBER = '-';

export function authCache(redis: Redis, prefix: string) {
  const k = (...parts: string[]) => keyOf(prefix, 'gw-auth', ...parts);
  return {
    /** [role or '-' or null, revoked flag, workspace limits JSON or null] in one round trip. */
    async sessionState(ws: string, userId: string, sid: string) {
      const [role, revoked, limits] = await redis.mget(
        k('member', ws, userId),
        k('revoked', sid),
        k('ws', ws),
      );
      return {
        role: role === null ? undefined : role === NOT_A_MEMBER ? null : (role as Role),
        revoked: revoked !== null && revoked !== undefined,
        limits: limits === null || limits === undefined ? undefined : (JSON.parse(limits) as WorkspaceLimits),
      };
    },
    async apiKeyState(id: string, ws?: string) {
      const keys = [k('apikey', id), ...(ws ? [k('ws', ws)] : [])];
      const [key, limits] = await redis.mget(...keys);
      return {
        key: key ? (JSON.parse(key) as CachedApiKey) : undefined,
        limits: limits ? (JSON.parse(limits) as WorkspaceLimits) : undefined,
      };
    },
    async limitsOf(ws: string): Promise<WorkspaceLimits | undefined> {
      const value = await redis.get(k('ws', ws));
      return value ? (JSON.parse(value) as WorkspaceLimits) : undefined;
    },
    setMember: (ws: string, userId: string, role: Role | null) =>
      redis.set(k('member', ws, userId), role ?? NOT_A_MEMBER, 'EX', TTL_SECONDS),
    setLimits: (ws: string, limits: WorkspaceLimits) =>
      redis.set(k('ws', ws), JSON.stringify(limits), 'EX', TTL_SECONDS),
    setApiKey: (id: string, value: CachedApiKey) =>
      redis.set(k('apikey', id), JSON.stringify(value), 'EX', TTL_SECONDS),
    revokeSession: (sid: string) => redis.set(k('revoked', sid), '1', 'EX', REVOKED_TTL_SECONDS),
    /** True at most once a minute per key: `lastUsedAt` is written that often, not per request. */
    async shouldTouch(id: string): Promise<boolean> {
      return (await redis.set(k('used', id), '1', 'EX', 60, 'NX')) === 'OK';
    },
  };
}
export type AuthCache = ReturnType<typeof authCache>;

import fastifyRateLimit from '@fastify/rate-limit';
import { ERRORS, keyOf } from '@wapi/contracts';
import type { ServiceApp } from '@wapi/service-kit';
import type { FastifyReply, FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import type { Redis } from 'ioredis';
import type { Config } from '../config';
import type { WorkspaceLimits } from '../data/auth-cache';
import { dependency } from './auth';

const WINDOW_MS = 60_000;

/** The per-minute limits of a workspace, from its plan and its own override. */
export function limitsFor(
  config: Config,
  limits: Pick<WorkspaceLimits, 'plan' | 'sendsPerMinute'>,
): { api: number; send: number } {
  const pro = limits.plan === 'pro';
  return {
    api: pro ? config.API_RATE_PRO : config.API_RATE_FREE,
    send: limits.sendsPerMinute ?? (pro ? config.SEND_RATE_PRO : config.SEND_RATE_FREE),
  };
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** `send`: the route also counts against the workspace's message-send limit. */
    sendLimited?: boolean;
  }
}

interface LimitResult {
  max: number;
  remaining: number;
  /** Milliseconds until the window resets. */
  ttl: number;
  ttlInSeconds: number;
  isExceeded: boolean;
}

/**
 * Answers the limit's headers: the de-facto `X-RateLimit-*` trio, and the IETF pair
 * (draft-ietf-httpapi-ratelimit-headers: `RateLimit-Policy: "name";q=<quota>;w=<window s>`,
 * `RateLimit: "name";r=<remaining>;t=<seconds to reset>`). On a send route the send limit's
 * headers replace the API limit's (the tighter one is what a sender must pace by).
 */
function setHeaders(
  reply: FastifyReply,
  policy: string,
  result: Pick<LimitResult, 'max' | 'remaining' | 'ttlInSeconds' | 'isExceeded'>,
): void {
  const remaining = result.isExceeded ? 0 : result.remaining;
  reply.header('x-ratelimit-limit', result.max);
  reply.header('x-ratelimit-remaining', remaining);
  reply.header('x-ratelimit-reset', result.ttlInSeconds);
  reply.header('ratelimit-policy', `"${policy}";q=${result.max};w=${WINDOW_MS / 1000}`);
  reply.header('ratelimit', `"${policy}";r=${remaining};t=${result.ttlInSeconds}`);
}

/** A limit that is used up: which, its quota, and the seconds until its window resets. */
export interface Refusal {
  policy: string;
  max: number;
  ttlInSeconds: number;
}

/**
 * Answers 429 RATE_LIMITED (the catalogue's body, every limit header, Retry-After) directly,
 * without throwing: an Error's stack trace and the error handler were the largest part of a
 * refusal's cost, and refusals are what a client over its limit sends most. Returns the reply
 * for an `onRequest` hook to return.
 */
export function sendRefusal(request: FastifyRequest, reply: FastifyReply, refusal: Refusal): FastifyReply {
  const { policy, max, ttlInSeconds } = refusal;
  setHeaders(reply, policy, { max, remaining: 0, ttlInSeconds, isExceeded: true });
  reply.header('retry-after', ttlInSeconds);
  return reply.code(ERRORS.RATE_LIMITED.status).send({
    error: {
      code: 'RATE_LIMITED',
      message: `The ${policy} limit of ${max} per minute is used up; retry after ${ttlInSeconds} s (Retry-After).`,
      requestId: request.id,
    },
  });
}

type Policy = 'api' | 'send';

/**
 * What this process already knows is spent: a workspace refused by the Redis counter stays
 * refused until its window ends (fixed windows only count up), so until then its requests
 * are answered from memory, right after the access token's signature is verified and before
 * any Redis or database round trip, body parsing or validation. That is what keeps a
 * neighbour hammering at 10x its limit cheap for everyone else on the same process: each
 * refusal costs a map lookup instead of the session MGET and two limiter scripts, which
 * would queue in front of other workspaces' calls on the shared Redis connection.
 *
 * Per process, so it is only ever a shortcut for an answer the shared counter gave: another
 * instance learns on its own first refusal. A plan change on this instance clears the
 * workspace's entries (`forget`); elsewhere a raised limit applies at the latest when the
 * current window ends (≤ 60 s). The workspace id comes from the verified token, never from
 * an unverified decode; a revoked session of a spent workspace gets 429 rather than 401
 * until the window ends (it is refused either way).
 */
export function createLimitGate(now: () => number = Date.now) {
  const spent = new Map<string, { max: number; resetAt: number }>();
  const key = (policy: Policy, ws: string) => `${policy}:${ws}`;
  /** Bound on memory: expired entries are dropped when the map grows past this. */
  const MAX_ENTRIES = 100_000;
  const blocked = (policy: Policy, ws: string) => {
    const entry = spent.get(key(policy, ws));
    if (!entry) return undefined;
    if (entry.resetAt <= now()) {
      spent.delete(key(policy, ws));
      return undefined;
    }
    return entry;
  };
  return {
    /** Records a refusal the Redis counter gave, until its window resets. */
    note(policy: Policy, ws: string, result: Pick<LimitResult, 'max' | 'ttl'>): void {
      if (spent.size >= MAX_ENTRIES) {
        const t = now();
        for (const [k, v] of spent) if (v.resetAt <= t) spent.delete(k);
        if (spent.size >= MAX_ENTRIES) return;
      }
      spent.set(key(policy, ws), { max: result.max, resetAt: now() + result.ttl });
    },
    /** The refusal to answer when `ws` is known spent for this request's policies, else undefined. */
    knownSpent(request: FastifyRequest, ws: string): Refusal | undefined {
      const policies: Policy[] = request.routeOptions.config.sendLimited ? ['api', 'send'] : ['api'];
      for (const policy of policies) {
        const entry = blocked(policy, ws);
        if (entry)
          return {
            policy,
            max: entry.max,
            ttlInSeconds: Math.max(1, Math.ceil((entry.resetAt - now()) / 1000)),
          };
      }
      return undefined;
    },
    /** Forgets `ws`'s refusals (its plan or limit changed). */
    forget(ws: string): void {
      spent.delete(key('api', ws));
      spent.delete(key('send', ws));
    },
  };
}
export type LimitGate = ReturnType<typeof createLimitGate>;

/**
 * Per-workspace limits on Redis (fixed one-minute windows, one counter per workspace and
 * policy): authenticated calls count against their workspace, never their IP, so one
 * tenant's burst cannot spend another's quota; public routes (sign-up, login, refresh)
 * count per client IP (`request.clientIp`, see GATEWAY_TRUST_PROXY). Runs as an `onRequest`
 * hook registered after authentication's (which names the workspace), so a refused request
 * is answered before its body is read or validated.
 */
export async function registerRateLimits(
  app: ServiceApp,
  deps: { config: Config; redis: Redis; gate: LimitGate },
): Promise<void> {
  const { config, gate } = deps;
  await app.register(fastifyRateLimit, {
    global: false,
    redis: deps.redis,
    nameSpace: `${keyOf(config.KEY_PREFIX, 'gw-ratelimit')}:`,
  });
  type Limiter = (request: FastifyRequest) => Promise<LimitResult>;
  const create = (app as unknown as { createRateLimit(options: object): Limiter }).createRateLimit.bind(app);
  const apiLimiter = create({
    timeWindow: WINDOW_MS,
    keyGenerator: (request: FastifyRequest) =>
      request.principal ? `api:${request.principal.workspaceId}` : `ip:${request.clientIp}`,
    max: (request: FastifyRequest) =>
      request.principal ? limitsFor(config, request.principal.limits).api : config.PUBLIC_RATE_PER_IP,
  });
  const sendLimiter = create({
    timeWindow: WINDOW_MS,
    keyGenerator: (request: FastifyRequest) => `send:${request.principal?.workspaceId ?? request.clientIp}`,
    max: (request: FastifyRequest) =>
      request.principal ? limitsFor(config, request.principal.limits).send : 1,
  });

  /** Counts the call against `policy`; the refusal when that limit is used up. */
  const check = async (
    request: FastifyRequest,
    reply: FastifyReply,
    policy: string,
    limiter: Limiter,
  ): Promise<Refusal | undefined> => {
    const result = await dependency(limiter(request));
    setHeaders(reply, policy, result);
    if (!result.isExceeded) return undefined;
    const ws = request.principal?.workspaceId;
    if (ws && (policy === 'api' || policy === 'send')) gate.note(policy, ws, result);
    return { policy, max: result.max, ttlInSeconds: result.ttlInSeconds };
  };
  const onRequest: onRequestAsyncHookHandler = async (request, reply) => {
    const url = request.routeOptions.url;
    // Answered already (authentication refused a workspace known to be over its limit).
    if (url === undefined || !url.startsWith('/api/v1') || reply.sent) return;
    const refusal =
      (await check(request, reply, request.principal ? 'api' : 'public', apiLimiter)) ??
      (request.routeOptions.config.sendLimited
        ? await check(request, reply, 'send', sendLimiter)
        : undefined);
    if (refusal) return sendRefusal(request, reply, refusal);
  };
  app.addHook('onRequest', onRequest);
}

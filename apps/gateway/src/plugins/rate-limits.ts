import fastifyRateLimit from '@fastify/rate-limit';
import { AppError, keyOf } from '@wapi/contracts';
import type { ServiceApp } from '@wapi/service-kit';
import type { FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
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
  ttlInSeconds: number;
  isExceeded: boolean;
}

/**
 * Answers the limit's headers: the de-facto `X-RateLimit-*` trio, and the IETF pair
 * (draft-ietf-httpapi-ratelimit-headers: `RateLimit-Policy: "name";q=<quota>;w=<window s>`,
 * `RateLimit: "name";r=<remaining>;t=<seconds to reset>`). On a send route the send limit's
 * headers replace the API limit's (the tighter one is what a sender must pace by).
 */
function setHeaders(reply: FastifyReply, policy: string, result: LimitResult): void {
  const remaining = result.isExceeded ? 0 : result.remaining;
  reply.header('x-ratelimit-limit', result.max);
  reply.header('x-ratelimit-remaining', remaining);
  reply.header('x-ratelimit-reset', result.ttlInSeconds);
  reply.header('ratelimit-policy', `"${policy}";q=${result.max};w=${WINDOW_MS / 1000}`);
  reply.header('ratelimit', `"${policy}";r=${remaining};t=${result.ttlInSeconds}`);
}

/**
 * Per-workspace limits on Redis (fixed one-minute windows, one counter per workspace and
 * policy): authenticated calls count against their workspace, never their IP, so one
 * tenant's burst cannot spend another's quota; public routes (sign-up, login, refresh)
 * count per IP. Runs as a preHandler, after authentication named the workspace.
 */
export async function registerRateLimits(
  app: ServiceApp,
  deps: { config: Config; redis: Redis },
): Promise<void> {
  const { config } = deps;
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
      request.principal ? `api:${request.principal.workspaceId}` : `ip:${request.ip}`,
    max: (request: FastifyRequest) =>
      request.principal ? limitsFor(config, request.principal.limits).api : config.PUBLIC_RATE_PER_IP,
  });
  const sendLimiter = create({
    timeWindow: WINDOW_MS,
    keyGenerator: (request: FastifyRequest) => `send:${request.principal?.workspaceId ?? request.ip}`,
    max: (request: FastifyRequest) =>
      request.principal ? limitsFor(config, request.principal.limits).send : 1,
  });

  const check = async (request: FastifyRequest, reply: FastifyReply, policy: string, limiter: Limiter) => {
    const result = await dependency(limiter(request));
    setHeaders(reply, policy, result);
    if (result.isExceeded) {
      reply.header('retry-after', result.ttlInSeconds);
      throw new AppError(
        'RATE_LIMITED',
        `The ${policy} limit of ${result.max} per minute is used up; retry after ${result.ttlInSeconds} s (Retry-After).`,
      );
    }
  };
  const preHandler: preHandlerAsyncHookHandler = async (request, reply) => {
    const url = request.routeOptions.url;
    if (url === undefined || !url.startsWith('/api/v1')) return;
    await check(request, reply, request.principal ? 'api' : 'public', apiLimiter);
    if (request.routeOptions.config.sendLimited) await check(request, reply, 'send', sendLimiter);
  };
  app.addHook('preHandler', preHandler);
}

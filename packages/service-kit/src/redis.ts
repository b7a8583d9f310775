import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';

/**
 * Connection roles (house style 22):
 * - `request`: used on request paths; fails fast while Redis is down (no offline queue),
 *   so a request answers 503 instead of hanging.
 * - `worker`: used by BullMQ queues and workers; waits out outages
 *   (`maxRetriesPerRequest: null`), as BullMQ requires.
 */
export type RedisRole = 'request' | 'worker';

/**
 * What a service may tune on top of its role's options. `enableAutoPipelining`: commands
 * issued in one tick leave in one socket write, which pays off on a hot path that issues
 * many small commands per unit of work (message-sender).
 */
export type RedisExtraOptions = Pick<RedisOptions, 'enableAutoPipelining'>;

export function createRedis(
  url: string,
  role: RedisRole,
  log: Pick<Logger, 'warn'>,
  name?: string,
  extra: RedisExtraOptions = {},
): Redis {
  const options: RedisOptions =
    role === 'request'
      ? { enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 2_000, lazyConnect: false }
      : { maxRetriesPerRequest: null, enableReadyCheck: true };
  const client = new Redis(url, {
    ...options,
    ...(name ? { connectionName: name } : {}),
    ...extra,
    retryStrategy: (attempt) => Math.min(50 * 2 ** Math.min(attempt, 6), 2_000),
  });
  // Every client has an error listener: without one, ioredis reports reconnect errors as
  // unhandled 'error' events. Logged at warn with the message only (the URL may hold a password).
  let lastMessage = '';
  client.on('error', (error: Error) => {
    if (error.message !== lastMessage)
      log.warn({ role, redisError: error.message }, 'redis connection error');
    lastMessage = error.message;
  });
  client.on('ready', () => {
    lastMessage = '';
  });
  return client;
}

/**
 * Closes a connection without hanging: `quit()` waits for Redis to answer, which a
 * worker-role connection does forever while Redis is down, so after `timeoutMs` the
 * connection is dropped instead. Keeps graceful shutdown bounded during an outage.
 */
export async function closeRedis(client: Redis, timeoutMs = 2_000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs);
  });
  const result = await Promise.race([client.quit().catch(() => 'failed' as const), timedOut]);
  clearTimeout(timer);
  if (result !== 'OK') client.disconnect();
}

/** Readiness probe for a Redis connection. */
export function redisCheck(client: Redis, name = 'redis') {
  return { name, probe: () => client.ping() };
}

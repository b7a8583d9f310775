import { AppError, keyOf } from '@wapi/contracts';
import type { Redis } from 'ioredis';

/** OWASP-style lockout: 5 failed logins per 15 minutes, counted per account and per IP. */
export const LOGIN_MAX_FAILURES = 5;
export const LOGIN_WINDOW_SECONDS = 15 * 60;

/**
 * Failed-login counters in Redis (fixed 15-minute windows that start at the first failure).
 * Counted per account (so a distributed guess at one account stops) and per IP (so one
 * address trying many accounts stops).
 */
export function loginThrottle(redis: Redis, prefix: string) {
  const keys = (email: string, ip: string) => [
    keyOf(prefix, 'gw-login', 'account', email),
    keyOf(prefix, 'gw-login', 'ip', ip),
  ];
  return {
    /** Throws LOGIN_THROTTLED (with the seconds to wait) when either counter is spent. */
    async assertAllowed(email: string, ip: string): Promise<void> {
      const [account, address] = keys(email, ip) as [string, string];
      const [counts, ttlA, ttlB] = await Promise.all([
        redis.mget(account, address),
        redis.ttl(account),
        redis.ttl(address),
      ]);
      const spent = counts.map((c) => Number(c ?? 0) >= LOGIN_MAX_FAILURES);
      if (!spent[0] && !spent[1]) return;
      const wait = Math.max(spent[0] ? ttlA : 0, spent[1] ? ttlB : 0, 1);
      throw new AppError(
        'LOGIN_THROTTLED',
        `Too many failed logins for this account or address; retry after ${wait} s.`,
        { retryAfter: wait },
      );
    },
    async recordFailure(email: string, ip: string): Promise<void> {
      const multi = redis.multi();
      for (const key of keys(email, ip)) {
        // SET NX starts the window at the first failure; INCR never extends it.
        multi.set(key, '0', 'EX', LOGIN_WINDOW_SECONDS, 'NX').incr(key);
      }
      await multi.exec();
    },
    /** A successful login clears the account's counter (not the IP's: it may be guessing others). */
    async recordSuccess(email: string): Promise<void> {
      await redis.del(keys(email, '')[0]!);
    },
  };
}
export type LoginThrottle = ReturnType<typeof loginThrottle>;

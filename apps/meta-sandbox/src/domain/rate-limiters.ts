/**
 * Rate limiters driven by an injected clock (`now` in ms), so tests can show they admit
 * exactly what the configured rates allow.
 */

/**
 * Throughput per phone number (§5.1: "80 messages per second", inbound + outbound).
 * Interpreted as a sliding one-second window: at most `perSecond` admissions in any 1,000 ms.
 * This admits a full second's quota at once (what "N per second" most plainly promises a
 * bursty sender) and never more than N in any second, so a sustained burst runs at exactly N/s.
 * A ring of the last N admission times makes each check O(1).
 */
export interface ThroughputLimiter {
  tryTake(now: number): boolean;
  readonly perSecond: number;
}

export function createThroughputLimiter(perSecond: number): ThroughputLimiter {
  const ring = new Array<number>(perSecond).fill(Number.NEGATIVE_INFINITY);
  let next = 0;
  return {
    perSecond,
    tryTake(now) {
      // ring[next] is the admission `perSecond` admissions ago: it must have left the window.
      if ((ring[next] ?? Number.NEGATIVE_INFINITY) > now - 1_000) return false;
      ring[next] = now;
      next = (next + 1) % perSecond;
      return true;
    },
  };
}

/**
 * Pair rate per (number, user) (§5.2): token bucket with capacity `burst` (45) refilled one
 * token per `intervalMs` (6 s), implemented as GCRA so the arithmetic stays integral:
 * a burst "borrows" future quota and must be repaid at the normal rate.
 */
export interface PairLimiter {
  tryTake(now: number): boolean;
}

export function createPairLimiter(burst: number, intervalMs: number): PairLimiter {
  const tolerance = intervalMs * (burst - 1);
  let theoreticalArrival = Number.NEGATIVE_INFINITY;
  return {
    tryTake(now) {
      const tat = Math.max(theoreticalArrival, now);
      if (tat - now > tolerance) return false;
      theoreticalArrival = tat + intervalMs;
      return true;
    },
  };
}

/** Management calls per app × WABA in a rolling hour (§5.4): a sliding log of call times. */
export interface HourlyCallLimiter {
  tryTake(now: number, limit: number): boolean;
}

export function createHourlyCallLimiter(): HourlyCallLimiter {
  const calls: number[] = [];
  return {
    tryTake(now, limit) {
      while (calls.length > 0 && (calls[0] ?? 0) <= now - 3_600_000) calls.shift();
      if (calls.length >= limit) return false;
      calls.push(now);
      return true;
    },
  };
}

/**
 * Classification of Meta Graph errors into what a caller should do about them.
 * The table follows the error-code table and notes of the WhatsApp Cloud API reference,
 * section 4 (Error codes), and section 5 (Limits) for the waits.
 */

export type ErrorClass =
  /** Try again later; `retryAfterMs` is a suggested first delay (callers add backoff and jitter). */
  | { kind: 'retryable'; retryAfterMs: number }
  /** A rate limit: wait at least `retryAfterMs` before the next call that would hit it. */
  | { kind: 'rate-limited'; retryAfterMs: number; scope: 'number' | 'pair' | 'waba' | 'app' | 'spam' }
  /** Retrying the same request cannot succeed; fix the request, template, account or recipient. */
  | { kind: 'permanent' }
  /** The access token is invalid, expired or lacks permission: get a new one. */
  | { kind: 'auth' };

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** Codes with a specific treatment; every other code is permanent (reference §4: "No" retry). */
const TABLE: Record<number, ErrorClass> = {
  0: { kind: 'auth' }, // AuthException
  190: { kind: 'auth' }, // access token expired / invalid
  10: { kind: 'auth' }, // permission denied
  2: { kind: 'retryable', retryAfterMs: 30 * SECOND }, // API service: downtime, <= 5 min outage
  4: { kind: 'rate-limited', retryAfterMs: MINUTE, scope: 'app' }, // app call rate
  80007: { kind: 'rate-limited', retryAfterMs: 5 * MINUTE, scope: 'waba' }, // §5.4 rolling hour per WABA
  80008: { kind: 'rate-limited', retryAfterMs: 5 * MINUTE, scope: 'waba' },
  130429: { kind: 'rate-limited', retryAfterMs: SECOND, scope: 'number' }, // §5.1 throughput
  131000: { kind: 'retryable', retryAfterMs: 5 * SECOND }, // "something went wrong": try again
  131016: { kind: 'retryable', retryAfterMs: 10 * SECOND }, // service unavailable
  131048: { kind: 'rate-limited', retryAfterMs: HOUR, scope: 'spam' }, // spam rate limit: quality issue
  131049: { kind: 'rate-limited', retryAfterMs: 24 * HOUR, scope: 'pair' }, // only after >= 24 h (§4 notes)
  131056: { kind: 'rate-limited', retryAfterMs: 6 * SECOND, scope: 'pair' }, // §5.2: one per 6 s after a burst
  131057: { kind: 'retryable', retryAfterMs: MINUTE }, // maintenance mode, <= 1 min
  133004: { kind: 'retryable', retryAfterMs: 10 * SECOND }, // server temporarily unavailable
  // 133008 / 133009 (too many PIN guesses / guessed too fast): "after `details` delay", see
  // PIN_GUESS_FALLBACK and classifyMetaError below.
  133015: { kind: 'retryable', retryAfterMs: 5 * MINUTE }, // recently deleted number: register after 5 min
  133016: { kind: 'rate-limited', retryAfterMs: 72 * HOUR, scope: 'number' }, // §8.4: 10 register/deregister / 72 h
  // Left permanent on purpose (§4 "after <action>": retrying the same request cannot help until
  // someone acts): 131042 after a billing fix, 131045 after re-registering, 131053 after fixing
  // the media, 132015 after unpausing, 133000 deregister again, 133010 register first.
};

/**
 * 133008 / 133009 when `details` carries no delay we can read. Meta documents no value (§4 only
 * says "after `details` delay"): one hour is our assumption, long enough not to lock the number.
 */
const PIN_GUESS_FALLBACK = HOUR;

const UNITS: Record<string, number> = {
  ms: 1,
  millisecond: 1,
  s: SECOND,
  sec: SECOND,
  second: SECOND,
  m: MINUTE,
  min: MINUTE,
  minute: MINUTE,
  h: HOUR,
  hr: HOUR,
  hour: HOUR,
  d: DAY,
  day: DAY,
};

/**
 * A delay written in an error's `details`, e.g. "Try again in 2 hours", "wait 30 seconds",
 * "retry after 1 hour and 30 minutes" (summed). Meta's exact wording is unconfirmed (§4), so
 * this reads any `<number> <unit>` pairs; `undefined` when there is none.
 */
export function parseDetailsDelayMs(details: string | undefined): number | undefined {
  if (!details) return undefined;
  let total = 0;
  let found = false;
  const pattern =
    /(\d+(?:\.\d+)?)\s*(milliseconds?|ms|seconds?|secs?|s|minutes?|mins?|m|hours?|hrs?|h|days?|d)\b/gi;
  for (const match of details.matchAll(pattern)) {
    const unitName = (match[2] ?? '').toLowerCase();
    const unit = UNITS[unitName] ?? UNITS[unitName.replace(/s$/, '')];
    if (unit === undefined) continue;
    total += Number(match[1]) * unit;
    found = true;
  }
  return found && total > 0 ? Math.round(total) : undefined;
}

/**
 * What to do about a Graph error `code` (reference §4). API permission codes 200-299 are auth.
 * `details` is the error's `error_data.details` (sync envelope or webhook error object): for
 * 133008 / 133009 the wait is read from it (§4: "after `details` delay").
 */
export function classifyMetaError(code: number, details?: string): ErrorClass {
  if (code === 133008 || code === 133009)
    return {
      kind: 'rate-limited',
      retryAfterMs: parseDetailsDelayMs(details) ?? PIN_GUESS_FALLBACK,
      scope: 'number',
    };
  const known = TABLE[code];
  if (known) return known;
  if (code >= 200 && code <= 299) return { kind: 'auth' };
  return { kind: 'permanent' };
}

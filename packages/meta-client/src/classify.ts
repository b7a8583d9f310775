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
};

/** What to do about a Graph error `code` (reference §4). API permission codes 200-299 are auth. */
export function classifyMetaError(code: number): ErrorClass {
  const known = TABLE[code];
  if (known) return known;
  if (code >= 200 && code <= 299) return { kind: 'auth' };
  return { kind: 'permanent' };
}

/**
 * Delay before transient retry number `retry` (1 = the first retry): exponential from
 * `baseMs`, capped at `maxMs`, with "equal jitter": a uniform draw in [d/2, d]. The jitter
 * spreads the retries of messages that failed together (a Meta 5xx hits a whole batch), so
 * they do not come back together and hit the number's pacing at once; the lower half is kept
 * so a retry never comes back sooner than half the backoff. `random` is injectable (tests).
 */
export function retryDelayMs(
  retry: number,
  baseMs: number,
  maxMs: number,
  random: () => number = Math.random,
): number {
  const exponent = Math.max(0, Math.min(retry - 1, 30));
  const d = Math.min(maxMs, baseMs * 2 ** exponent);
  return Math.round(d / 2 + random() * (d / 2));
}

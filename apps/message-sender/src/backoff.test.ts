import { describe, expect, it } from 'vitest';
import { retryDelayMs } from './backoff';

describe('retryDelayMs', () => {
  it('doubles from the base, stays within [d/2, d] and never exceeds the cap', () => {
    expect(retryDelayMs(1, 1_000, 60_000, () => 0)).toBe(500);
    expect(retryDelayMs(1, 1_000, 60_000, () => 1)).toBe(1_000);
    expect(retryDelayMs(3, 1_000, 60_000, () => 0.5)).toBe(3_000);
    expect(retryDelayMs(20, 1_000, 60_000, () => 1)).toBe(60_000);
    expect(retryDelayMs(20, 1_000, 60_000, () => 0)).toBe(30_000);
  });

  it('spreads the retries of messages that failed together', () => {
    let seed = 42;
    // A small deterministic generator (LCG): the same draws on every run.
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const delays = Array.from({ length: 100 }, () => retryDelayMs(2, 1_000, 60_000, random));
    for (const d of delays) {
      expect(d).toBeGreaterThanOrEqual(1_000);
      expect(d).toBeLessThanOrEqual(2_000);
    }
    // Not bunched: 100 draws land in at least 8 of the 10 tenths of the range.
    expect(
      new Set(delays.map((d) => Math.min(9, Math.floor((d - 1_000) / 100)))).size,
    ).toBeGreaterThanOrEqual(8);
  });
});

import { useTestContext } from '@wapi/testkit';
import { describe, expect, it } from 'vitest';
import { SERVICE } from '../src/config';
import { createRedisState, REACH_WINDOW_MS } from '../src/redis-state';

// The pacing scripts on a real Redis with an injected clock: Meta's full-size limits, which
// would take minutes of wall time through the sandbox (send.test.ts runs them scaled down
// against the sandbox, which judges them on the wire).
const ctx = useTestContext(SERVICE);
const T0 = 1_800_000_000_000;

describe('pacing scripts (injected clock)', () => {
  it('schedules 100 messages to one recipient as Meta allows: a burst of 45, then one per 6.1 s', async () => {
    const state = createRedisState(ctx.redis, ctx.prefix);
    const number = { key: state.numberKey('301'), intervalMs: 1000 / 72, burst: 1 };
    const pair = { key: state.pairKey('301', '15550001111'), intervalMs: 6_100, burst: 45 };
    const slots: number[] = [];
    // All enqueued at once: each job reserves its slot when it first runs.
    for (let k = 0; k < 100; k += 1) slots.push(T0 + (await state.pace([number, pair], T0)));
    // The burst goes at the number's pace (72/s: 45 in 0.62 s).
    expect((slots[44] as number) - T0).toBeLessThanOrEqual(620);
    for (let k = 1; k < 45; k += 1)
      expect((slots[k] as number) - (slots[k - 1] as number)).toBeGreaterThanOrEqual(13);
    // Then one every 6.1 s: message 45 at 6.1 s, message 99 at 55 x 6.1 s = 335.5 s.
    for (let k = 45; k < 100; k += 1) expect((slots[k] as number) - T0).toBe((k - 44) * 6_100);
    // Meta's rule holds in every window: never more than 45 + (elapsed / 6 s) by any moment.
    for (let k = 0; k < 100; k += 1)
      expect(k + 1).toBeLessThanOrEqual(45 + Math.floor(((slots[k] as number) - T0) / 6_000));
  });

  it('counts unique recipients per rolling 24 h: a counted one always passes, a new one waits for the oldest to leave', async () => {
    const state = createRedisState(ctx.redis, ctx.prefix);
    expect(await state.reach('901', 'a', 2, T0)).toBe(0);
    expect(await state.reach('901', 'b', 2, T0 + 1_000)).toBe(0);
    expect(await state.reach('901', 'a', 2, T0 + 2_000)).toBe(0);
    // `c` is new: the place of `b` (reached at +1 s) frees at 24 h + 1 s (`a` was reached again at +2 s).
    expect(await state.reach('901', 'c', 2, T0 + 3_000)).toBe(REACH_WINDOW_MS + 1_000 - 3_000);
    expect(await state.reach('901', 'c', 2, T0 + REACH_WINDOW_MS + 1_000)).toBe(0);
    // Another portfolio is counted apart.
    expect(await state.reach('902', 'c', 1, T0)).toBe(0);
  });

  it('reserves a slot only within the horizon when asked to', async () => {
    const state = createRedisState(ctx.redis, ctx.prefix);
    const number = { key: state.numberKey('302'), intervalMs: 100, burst: 1 };
    for (let k = 0; k < 10; k += 1) await state.pace([number], T0);
    // The number is booked 1 s ahead: a slot 1 s ahead is refused within 500 ms...
    expect(await state.tryPace([number], T0, T0, 500)).toEqual({ reserved: false, wait: 1_000 });
    // ... and taken without a horizon.
    expect(await state.tryPace([number], T0)).toEqual({ reserved: true, wait: 1_000 });
  });
});

import { describe, expect, it } from 'vitest';
import { classifyMetaError, parseDetailsDelayMs } from '../src/index';

// Reference §4 (Error codes) and §5 (Limits).
describe('classifyMetaError', () => {
  it('treats expired tokens and permission codes as auth (190, 0, 10, 200-299)', () => {
    for (const code of [190, 0, 10, 200, 250, 299]) expect(classifyMetaError(code)).toEqual({ kind: 'auth' });
  });

  it('rate-limits throughput (130429) per number and pair rate (131056) per pair with the 6 s spacing', () => {
    expect(classifyMetaError(130429)).toMatchObject({ kind: 'rate-limited', scope: 'number' });
    expect(classifyMetaError(131056)).toEqual({ kind: 'rate-limited', retryAfterMs: 6_000, scope: 'pair' });
    expect(classifyMetaError(80007)).toMatchObject({ kind: 'rate-limited', scope: 'waba' });
  });

  it('retries transient failures (2, 131000, 131016, 131057, 133004)', () => {
    for (const code of [2, 131000, 131016, 131057, 133004])
      expect(classifyMetaError(code).kind).toBe('retryable');
  });

  it('never retries request, template, window or opt-out errors', () => {
    for (const code of [
      100, 131008, 131009, 131021, 131026, 131047, 131050, 132000, 132001, 132012, 132015, 132016, 133010,
    ]) {
      expect(classifyMetaError(code)).toEqual({ kind: 'permanent' });
    }
  });

  it('waits at least 24 h after 131049 (per-user marketing limit)', () => {
    const result = classifyMetaError(131049);
    expect(result.kind).toBe('rate-limited');
    expect(result.kind === 'rate-limited' && result.retryAfterMs).toBeGreaterThanOrEqual(24 * 3600 * 1000);
  });

  it('rate-limits register/deregister (133016) per number for 72 h (§4, §8.4: 10 calls / 72 h)', () => {
    expect(classifyMetaError(133016)).toEqual({
      kind: 'rate-limited',
      retryAfterMs: 72 * 3600 * 1000,
      scope: 'number',
    });
  });

  it('retries a recently deleted number (133015) after 5 min (§4)', () => {
    expect(classifyMetaError(133015)).toEqual({ kind: 'retryable', retryAfterMs: 5 * 60 * 1000 });
  });

  it('waits the delay given in details after too many / too fast PIN guesses (133008, 133009; §4)', () => {
    expect(classifyMetaError(133008, 'Too many PIN guesses. Try again in 2 hours.')).toEqual({
      kind: 'rate-limited',
      retryAfterMs: 2 * 3600 * 1000,
      scope: 'number',
    });
    expect(classifyMetaError(133009, 'PIN guessed too fast, wait 1 minute 30 seconds')).toEqual({
      kind: 'rate-limited',
      retryAfterMs: 90 * 1000,
      scope: 'number',
    });
  });

  it('falls back to one hour for 133008/133009 without a readable delay in details (§4, assumption)', () => {
    for (const details of [undefined, '', 'Too many PIN guesses for this phone number.'])
      expect(classifyMetaError(133008, details)).toEqual({
        kind: 'rate-limited',
        retryAfterMs: 3600 * 1000,
        scope: 'number',
      });
  });

  it('ignores details for codes whose wait is fixed, and keeps "after <action>" codes permanent (§4)', () => {
    expect(classifyMetaError(131056, 'Try again in 3 hours')).toEqual(classifyMetaError(131056));
    for (const code of [131042, 131045, 132015, 133000, 133010])
      expect(classifyMetaError(code, 'Try again in 5 minutes')).toEqual({ kind: 'permanent' });
  });

  it('reads <number> <unit> delays from details', () => {
    expect(parseDetailsDelayMs('retry after 45s')).toBe(45_000);
    expect(parseDetailsDelayMs('wait 1 day')).toBe(24 * 3600 * 1000);
    expect(parseDetailsDelayMs('after 1 hr 10 mins')).toBe(70 * 60 * 1000);
    expect(parseDetailsDelayMs('number 15550783881.')).toBeUndefined();
    expect(parseDetailsDelayMs(undefined)).toBeUndefined();
  });
});

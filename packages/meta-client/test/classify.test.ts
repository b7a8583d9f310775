import { describe, expect, it } from 'vitest';
import { classifyMetaError } from '../src/index';

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
});

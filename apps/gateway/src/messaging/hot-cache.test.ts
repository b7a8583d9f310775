import { describe, expect, it } from 'vitest';
import { hotCache } from './hot-cache';

describe('hotCache', () => {
  it('forgets an entry after its time to live, on delete, and the oldest beyond its size', () => {
    let now = 1_000;
    const cache = hotCache<string>(2, 100, () => now);
    cache.set('a', 'A');
    expect(cache.get('a')).toBe('A');
    now += 100;
    expect(cache.get('a')).toBeUndefined();
    cache.set('a', 'A');
    cache.set('b', 'B');
    cache.set('c', 'C');
    expect([cache.get('a'), cache.get('b'), cache.get('c')]).toEqual([undefined, 'B', 'C']);
    cache.delete('b');
    expect(cache.get('b')).toBeUndefined();
  });
});

import { describe, expect, it } from 'vitest';
import { admitReach, portfolioOf, reachCount } from './messaging-limits';
import { applySeed } from './seed';
import { createWorld } from './world';

const HOUR = 3_600_000;

function worldWithLimit(tier: 'TIER_50' | 'TIER_UNLIMITED') {
  const world = createWorld();
  applySeed(
    world,
    { wabas: [{ id: '2', phoneNumbers: [{ id: '3', display: '15550783881', messagingLimit: tier }] }] },
    0,
    {
      throughputMps: 80,
    },
  );
  const number = world.numbers.get('3');
  if (!number) throw new Error('seed did not create the number');
  return { world, number };
}

describe('admitReach (docs/meta-platform.md §5.3)', () => {
  it('keeps a user reached again inside 24 h counted, and frees users whose 24 h have passed', () => {
    const { world, number } = worldWithLimit('TIER_50');
    for (let i = 0; i < 50; i++)
      expect(admitReach(world, number, `1650555${String(i).padStart(4, '0')}`, 0)).toBe(true);
    expect(admitReach(world, number, '16505559999', HOUR)).toBe(false);
    // The first user is reached again at 23 h: still one of the 50, so no room at 25 h…
    expect(admitReach(world, number, '16505550000', 23 * HOUR)).toBe(true);
    expect(reachCount(world, portfolioOf(world, number), 25 * HOUR)).toBe(1);
    expect(admitReach(world, number, '16505559999', 25 * HOUR)).toBe(true);
    // …and at 25 h the other 49 (reached at 0) have expired: 1 + 1 reached now.
    expect(reachCount(world, portfolioOf(world, number), 25 * HOUR)).toBe(2);
  });

  it('costs time proportional to the users that expire, not to everyone reached (load tests)', () => {
    const { world, number } = worldWithLimit('TIER_UNLIMITED');
    const started = performance.now();
    // 50,000 users within 24 h: a scan of everyone reached on each send took ~1.25 billion steps.
    for (let i = 0; i < 50_000; i++) admitReach(world, number, `1650${String(i).padStart(7, '0')}`, i);
    expect(performance.now() - started).toBeLessThan(1_500);
    expect(reachCount(world, portfolioOf(world, number), 50_000)).toBe(50_000);
    expect(admitReach(world, number, '16509999999', 25 * HOUR)).toBe(true);
    expect(reachCount(world, portfolioOf(world, number), 25 * HOUR)).toBe(1);
  });
});

describe('portfolioOf (§5.3: the limit is the business portfolio’s)', () => {
  it('puts WABAs seeded with the same businessId in one portfolio, and others in their own', () => {
    const world = createWorld();
    applySeed(
      world,
      {
        wabas: [
          {
            id: '2',
            businessId: '77',
            phoneNumbers: [{ id: '3', display: '15550783881', messagingLimit: 'TIER_50' }],
          },
          {
            id: '4',
            businessId: '77',
            phoneNumbers: [{ id: '5', display: '15550783882', messagingLimit: 'TIER_50' }],
          },
          { id: '6', phoneNumbers: [{ id: '7', display: '15550783883', messagingLimit: 'TIER_50' }] },
        ],
      },
      0,
      { throughputMps: 80 },
    );
    const numberOf = (id: string) => {
      const number = world.numbers.get(id);
      if (!number) throw new Error(`seed did not create ${id}`);
      return number;
    };
    const [a, b, c] = [numberOf('3'), numberOf('5'), numberOf('7')];
    expect(portfolioOf(world, a)).toBe('77');
    expect(portfolioOf(world, b)).toBe('77');
    // 50 users from the two WABAs of portfolio 77 fill its limit; the third WABA's is its own.
    for (let i = 0; i < 25; i++) {
      expect(admitReach(world, a, `1650555${String(i).padStart(4, '0')}`, 0)).toBe(true);
      expect(admitReach(world, b, `1650556${String(i).padStart(4, '0')}`, 0)).toBe(true);
    }
    expect(admitReach(world, b, '16505579999', HOUR)).toBe(false);
    expect(admitReach(world, c, '16505579999', HOUR)).toBe(true);
  });
});

import { MESSAGING_TIER_REACH } from '@wapi/contracts';
import type { PhoneNumber, World } from './world';

/**
 * Messaging-limit tiers (§5.3, §3.7 `phone_number_quality_update` values): unique users reached
 * outside a customer-service window in a rolling 24 h. TIER_1K and TIER_50 come from the old
 * per-number ladder; TIER_NOT_SET is treated as unlimited (sandbox choice, unconfirmed).
 */
export { MESSAGING_TIERS } from '@wapi/contracts';

const DAY_MS = 86_400_000;

/** Reach of a tier; unknown, unlimited and unset tiers → Infinity. */
export function tierReach(tier: string): number {
  return MESSAGING_TIER_REACH[tier] ?? Number.POSITIVE_INFINITY;
}

/** The WABA's business portfolio id (§5.3: the limit is shared by the portfolio's numbers). */
export function portfolioOf(world: World, number: PhoneNumber): string {
  return world.wabas.get(number.wabaId)?.businessId ?? number.wabaId;
}

/**
 * §5.3: since 2025-10-07 the limit is the portfolio's, and existing portfolios got the highest
 * of their numbers' limits — so the portfolio limit is the max over its numbers' tiers.
 */
export function portfolioLimit(world: World, portfolioId: string): number {
  let limit = 0;
  for (const n of world.numbers.values())
    if (portfolioOf(world, n) === portfolioId) limit = Math.max(limit, tierReach(n.messagingLimit));
  return limit;
}

/**
 * Admits a business-initiated send to `waId` (§5.3): a user already reached in the last 24 h
 * costs nothing; a new user is admitted while the portfolio is under its limit.
 */
export function admitReach(world: World, number: PhoneNumber, waId: string, now: number): boolean {
  const portfolioId = portfolioOf(world, number);
  let reach = world.portfolioReach.get(portfolioId);
  if (!reach) {
    reach = new Map();
    world.portfolioReach.set(portfolioId, reach);
  }
  // The map is kept in the order users were last reached (re-reaching moves a user to the
  // end), so expired users are a prefix: pruning stops at the first live one. O(1) amortised
  // per send, where a full scan made load tests quadratic.
  for (const [user, at] of reach) {
    if (now - at < DAY_MS) break;
    reach.delete(user);
  }
  if (!reach.has(waId) && reach.size >= portfolioLimit(world, portfolioId)) return false;
  reach.delete(waId);
  reach.set(waId, now);
  return true;
}

/** Users reached by the portfolio in the last 24 h (control API inspection). */
export function reachCount(world: World, portfolioId: string, now: number): number {
  const reach = world.portfolioReach.get(portfolioId);
  if (!reach) return 0;
  let count = 0;
  for (const at of reach.values()) if (now - at < DAY_MS) count++;
  return count;
}

import { MESSAGING_TIER_REACH } from '@wapi/contracts';

/**
 * What Graph reports about a number's limits, as the numbers message-sender paces by
 * (docs/meta-platform.md §5.1, §5.3). One table each, so the webhook path (health.ts), the
 * periodic sync (sync.ts) and Embedded Signup (onboarding) read Meta's values the same way.
 *
 * | Meta's messaging limit tier | unique business-initiated recipients per rolling 24 h |
 * |---|--:|
 * | `TIER_50` | 50 |
 * | `TIER_250` | 250 |
 * | `TIER_1K` | 1,000 |
 * | `TIER_2K` | 2,000 |
 * | `TIER_10K` | 10,000 |
 * | `TIER_100K` | 100,000 |
 * | `TIER_UNLIMITED` | `null` (unlimited) |
 * | `TIER_NOT_SET`, anything else | unknown: the field is left as it was |
 *
 * | Meta's throughput level | messages per second |
 * |---|--:|
 * | `STANDARD` | 80 |
 * | `HIGH` (the sandbox's name for the automatic upgrade; Meta confirms only STANDARD, §5.1) | 1,000 |
 * | anything else | unknown: the field is left as it was |
 */
export const MESSAGING_LIMITS: Readonly<Record<string, number | null>> = {
  ...MESSAGING_TIER_REACH,
  TIER_UNLIMITED: null,
};

export const THROUGHPUT_MPS: Readonly<Record<string, number>> = {
  STANDARD: 80,
  HIGH: 1_000,
};

/**
 * The recipients a tier allows: a number, `null` for unlimited, `undefined` when the value
 * is not a tier we know. `business_capability_update` may give a bare number or `1K`-style
 * value instead of a tier name: those are read too.
 */
export function messagingLimitOf(tier: string | undefined | null): number | null | undefined {
  if (!tier) return undefined;
  const name = tier.toUpperCase();
  if (name in MESSAGING_LIMITS) return MESSAGING_LIMITS[name];
  if (name === 'UNLIMITED') return null;
  if (/^[0-9]+$/.test(name)) return Number(name);
  const short = /^([0-9]+)K$/.exec(name);
  return short ? Number(short[1]) * 1_000 : undefined;
}

/** Messages per second of a throughput level, or `undefined` for an unknown one. */
export const throughputOf = (level: string | undefined | null): number | undefined =>
  level ? THROUGHPUT_MPS[level.toUpperCase()] : undefined;

/** Quality ratings from best to worst; a move to a later one is a drop. */
const QUALITY_ORDER = ['GREEN', 'YELLOW', 'RED'] as const;

/** True when `to` is a worse rating than `from` (unknown ratings never count as a drop). */
export function isQualityDrop(from: string | null | undefined, to: string | null | undefined): boolean {
  const a = QUALITY_ORDER.indexOf((from ?? '') as (typeof QUALITY_ORDER)[number]);
  const b = QUALITY_ORDER.indexOf((to ?? '') as (typeof QUALITY_ORDER)[number]);
  return a !== -1 && b !== -1 && b > a;
}

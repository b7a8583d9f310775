import {
  type AccountUpdateValue,
  AppError,
  type BusinessCapabilityUpdateValue,
  type PhoneNumberQualityUpdateValue,
  type SandboxAccountUpdateRequest,
  type SandboxCapabilityUpdateRequest,
  type SandboxPhoneNumberQualityRequest,
  type SandboxPhoneNumberQualityResponse,
  type SandboxWabaEventResponse,
} from '@wapi/contracts';
import { portfolioOf, tierReach } from './messaging-limits';
import type { Clock, WebhookSink } from './ports';
import { createThroughputLimiter } from './rate-limiters';
import type { PhoneNumber, Waba, World } from './world';

// What Meta decides about a number's health and an account (§3.7, §5.1, §5.3, §8.5), played
// by the control API: each change is applied to the world (so Graph reads show it) and sent
// as the webhook Meta would send.

/** §5.1: the upgraded throughput level. */
export const HIGH_THROUGHPUT_MPS = 1_000;

export interface NumberHealthDeps {
  world: World;
  clock: Clock;
  webhooks: WebhookSink;
  /** Messages per second of a STANDARD number (SANDBOX_THROUGHPUT_MPS). */
  standardMps: number;
}

const throughputLevel = (mps: number) => (mps >= HIGH_THROUGHPUT_MPS ? 'HIGH' : 'STANDARD');

/** Quality ratings from best to worst (an UNKNOWN/NA rating is neither better nor worse). */
const QUALITY_RANK: Record<string, number> = { GREEN: 0, YELLOW: 1, RED: 2 };

/** The portfolio's messaging limit (§5.3): the highest tier among its numbers. */
function portfolioTier(world: World, number: PhoneNumber): string {
  const portfolio = portfolioOf(world, number);
  let best = number.messagingLimit;
  for (const n of world.numbers.values())
    if (portfolioOf(world, n) === portfolio && tierReach(n.messagingLimit) > tierReach(best))
      best = n.messagingLimit;
  return best;
}

/**
 * The `phone_number_quality_update` event Meta sends for a change (§3.7): a throughput upgrade
 * first, then a messaging-limit move, then a quality flag; undefined when nothing changed.
 */
function eventFor(before: PhoneNumber, after: { quality: string; limit: string; mps: number }) {
  if (throughputLevel(after.mps) === 'HIGH' && throughputLevel(before.throughputMps) !== 'HIGH')
    return 'THROUGHPUT_UPGRADE';
  const from = tierReach(before.messagingLimit);
  const to = tierReach(after.limit);
  if (to > from) return 'UPGRADE';
  if (to < from) return 'DOWNGRADE';
  const was = QUALITY_RANK[before.qualityRating];
  const is = QUALITY_RANK[after.quality];
  if (was !== undefined && is !== undefined && is > was) return 'FLAGGED';
  if (was !== undefined && is !== undefined && is < was) return 'UNFLAGGED';
  return undefined;
}

/**
 * `POST /_sandbox/phone-numbers/:id/quality`: sets the number's quality rating, the portfolio's
 * messaging limit (every number of the portfolio, §5.3) and the number's throughput level
 * (§5.1: HIGH is 1,000/s, the limiter follows at once), then sends `phone_number_quality_update`
 * (§3.7) with the given or implied event. `GET /{phone-number-id}` shows the new
 * `quality_rating`, `throughput.level` and messaging limit.
 */
export function setPhoneNumberQuality(
  deps: NumberHealthDeps,
  id: string,
  input: SandboxPhoneNumberQualityRequest,
): SandboxPhoneNumberQualityResponse {
  const { world } = deps;
  const number = world.numbers.get(id);
  if (!number)
    throw new AppError(
      'ROUTE_NOT_FOUND',
      `No phone number ${id}; create it first (POST /_sandbox/phone-numbers or the seed).`,
    );
  const after = {
    quality: input.qualityRating ?? number.qualityRating,
    limit: input.messagingLimit ?? number.messagingLimit,
    mps:
      input.throughputLevel === undefined
        ? number.throughputMps
        : input.throughputLevel === 'HIGH'
          ? HIGH_THROUGHPUT_MPS
          : Math.min(deps.standardMps, HIGH_THROUGHPUT_MPS - 1),
  };
  const event = input.event ?? eventFor(number, after);
  const oldLimit = number.messagingLimit;

  number.qualityRating = after.quality;
  if (after.mps !== number.throughputMps) {
    number.throughputMps = after.mps;
    number.limiter = createThroughputLimiter(after.mps);
  }
  if (input.messagingLimit !== undefined) {
    const portfolio = portfolioOf(world, number);
    for (const n of world.numbers.values())
      if (portfolioOf(world, n) === portfolio) n.messagingLimit = input.messagingLimit;
  }

  let webhook: PhoneNumberQualityUpdateValue | undefined;
  if (event !== undefined) {
    webhook = {
      display_phone_number: number.display,
      event,
      current_limit: number.messagingLimit,
      // §3.7: `old_limit` only when the messaging limit changed.
      ...(oldLimit !== number.messagingLimit ? { old_limit: oldLimit } : {}),
      max_daily_conversations_per_business: portfolioTier(world, number),
    };
    deps.webhooks.toWaba(number.wabaId, 'phone_number_quality_update', { ...webhook });
  }
  return {
    id: number.id,
    qualityRating: number.qualityRating,
    messagingLimit: number.messagingLimit,
    throughputLevel: throughputLevel(number.throughputMps),
    throughputMps: number.throughputMps,
    ...(webhook ? { webhook: { ...webhook } } : {}),
  };
}

function wabaOf(world: World, id: string): Waba {
  const waba = world.wabas.get(id);
  if (!waba)
    throw new AppError(
      'ROUTE_NOT_FOUND',
      `No WABA ${id}; create it first (POST /_sandbox/wabas or the seed).`,
    );
  return waba;
}

/** `April 17, 2025`: how Meta writes `waba_ban_date` (§3.7). */
function banDate(ms: number): string {
  return new Date(ms).toLocaleDateString('en-US', {
    month: 'long',
    day: 'numeric',
    year: 'numeric',
    timeZone: 'UTC',
  });
}

/** account_update events that carry the WABA's `waba_info` (§3.7). */
const WITH_WABA_INFO = new Set([
  'PARTNER_ADDED',
  'PARTNER_REMOVED',
  'PARTNER_APP_INSTALLED',
  'PARTNER_APP_UNINSTALLED',
  'MM_LITE_TERMS_SIGNED',
]);

/**
 * `POST /_sandbox/wabas/:id/account-update`: sends an `account_update` (§3.7) with the detail
 * object Meta attaches to that event. A detail given for an event that does not carry it is
 * refused rather than sent in a shape Meta never sends.
 */
export function sendAccountUpdate(
  deps: { world: World; clock: Clock; webhooks: WebhookSink },
  wabaId: string,
  input: SandboxAccountUpdateRequest,
): SandboxWabaEventResponse {
  const waba = wabaOf(deps.world, wabaId);
  const { event } = input;
  const misplaced = (detail: string, owner: string) =>
    new AppError(
      'VALIDATION_FAILED',
      `${detail} is only sent with ${owner}, not with ${event}; leave it out.`,
    );
  if (input.banInfo && event !== 'DISABLED_UPDATE') throw misplaced('banInfo', 'DISABLED_UPDATE');
  if (input.violationType !== undefined && event !== 'ACCOUNT_VIOLATION')
    throw misplaced('violationType', 'ACCOUNT_VIOLATION');
  if (input.country !== undefined && event !== 'BUSINESS_PRIMARY_LOCATION_COUNTRY_UPDATE')
    throw misplaced('country', 'BUSINESS_PRIMARY_LOCATION_COUNTRY_UPDATE');
  const value: AccountUpdateValue = { event };
  if (event === 'DISABLED_UPDATE')
    value.ban_info = {
      waba_ban_state: input.banInfo?.wabaBanState ?? 'DISABLE',
      waba_ban_date: input.banInfo?.wabaBanDate ?? banDate(deps.clock.now()),
    };
  if (event === 'ACCOUNT_VIOLATION') {
    if (input.violationType === undefined)
      throw new AppError('VALIDATION_FAILED', 'ACCOUNT_VIOLATION needs violationType (e.g. "ADULT").');
    value.violation_info = { violation_type: input.violationType };
  }
  if (event === 'BUSINESS_PRIMARY_LOCATION_COUNTRY_UPDATE') {
    if (input.country === undefined)
      throw new AppError(
        'VALIDATION_FAILED',
        'BUSINESS_PRIMARY_LOCATION_COUNTRY_UPDATE needs country (ISO 3166-1 alpha-2, e.g. "IN").',
      );
    value.country = input.country;
  }
  if (WITH_WABA_INFO.has(event)) value.waba_info = { waba_id: waba.id, owner_business_id: waba.businessId };
  deps.webhooks.toWaba(waba.id, 'account_update', { ...value });
  return { wabaId: waba.id, field: 'account_update', webhook: { ...value } };
}

/**
 * `POST /_sandbox/wabas/:id/capability`: sends a `business_capability_update` (§3.7). A new
 * `maxDailyConversationsPerBusiness` becomes the messaging limit of every number of the
 * WABA's portfolio (§5.3), as Graph then reads it.
 */
export function sendCapabilityUpdate(
  deps: { world: World; webhooks: WebhookSink },
  wabaId: string,
  input: SandboxCapabilityUpdateRequest,
): SandboxWabaEventResponse {
  const waba = wabaOf(deps.world, wabaId);
  const value: BusinessCapabilityUpdateValue = {};
  const tier = input.maxDailyConversationsPerBusiness;
  if (tier !== undefined) {
    value.max_daily_conversations_per_business = tier;
    for (const n of deps.world.numbers.values())
      if (deps.world.wabas.get(n.wabaId)?.businessId === waba.businessId) n.messagingLimit = tier;
  }
  if (input.maxPhoneNumbersPerBusiness !== undefined)
    value.max_phone_numbers_per_business = input.maxPhoneNumbersPerBusiness;
  if (input.maxPhoneNumbersPerWaba !== undefined)
    value.max_phone_numbers_per_waba = input.maxPhoneNumbersPerWaba;
  deps.webhooks.toWaba(waba.id, 'business_capability_update', { ...value });
  return { wabaId: waba.id, field: 'business_capability_update', webhook: { ...value } };
}

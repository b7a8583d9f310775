import type { PhoneNumberInfo } from '@wapi/contracts';
import type { PhoneNumber, World } from './world';

/** Every field of a phone number node the sandbox knows (§8.5, §5.1, §5.3). */
export function phoneNumberFields(world: World, number: PhoneNumber, version: number): PhoneNumberInfo {
  const waba = world.wabas.get(number.wabaId);
  const subscription = waba ? [...waba.subscriptions.values()][0] : undefined;
  const app = subscription ? world.apps.get(subscription.appId) : undefined;
  const webhook: Record<string, string> = {};
  if (app?.callbackUrl) webhook.application = app.callbackUrl;
  if (subscription?.overrideCallbackUri) webhook.whatsapp_business_account = subscription.overrideCallbackUri;
  if (number.override) webhook.phone_number = number.override.uri;
  return {
    id: number.id,
    verified_name: number.verifiedName,
    display_phone_number: number.display,
    quality_rating: number.qualityRating,
    code_verification_status: 'VERIFIED',
    platform_type: 'CLOUD_API',
    // §5.1: only `STANDARD` is confirmed; `HIGH` for upgraded numbers is an assumption (§13.5).
    throughput: { level: number.throughputMps >= 1_000 ? 'HIGH' : 'STANDARD' },
    status: number.registered ? 'CONNECTED' : 'PENDING',
    name_status: 'APPROVED',
    whatsapp_business_manager_messaging_limit: number.messagingLimit,
    // §1.1: `messaging_limit_tier` was replaced in v24.0.
    ...(version < 24 ? { messaging_limit_tier: number.messagingLimit } : {}),
    account_mode: 'LIVE',
    is_official_business_account: false,
    webhook_configuration: webhook,
  };
}

/** Fields returned when `fields=` is absent (§8.5: list default, and the node example). */
export const LIST_DEFAULT_FIELDS = ['verified_name', 'display_phone_number', 'id', 'quality_rating'];
export const NODE_DEFAULT_FIELDS = [
  'verified_name',
  'code_verification_status',
  'display_phone_number',
  'quality_rating',
  'platform_type',
  'throughput',
  'webhook_configuration',
  'id',
];

export function pickFields(
  view: PhoneNumberInfo,
  fields: string | undefined,
  defaults: string[],
): PhoneNumberInfo {
  const wanted = fields
    ? fields
        .split(',')
        .map((f) => f.trim())
        .filter(Boolean)
    : defaults;
  const out: Record<string, unknown> = { id: view.id };
  for (const field of wanted) {
    const value = (view as Record<string, unknown>)[field];
    if (value !== undefined) out[field] = value;
  }
  return out as PhoneNumberInfo;
}

/**
 * `fields=` on any Graph node (§1.1): the node's `id` plus the listed fields it has, or
 * `defaults` (all fields when omitted) without `fields=`.
 */
export function selectFields<T extends { id: string }>(
  view: T,
  fields: string | undefined,
  defaults?: string[],
): Partial<T> & { id: string } {
  if (!fields && !defaults) return view;
  const wanted = fields
    ? fields
        .split(',')
        .map((f) => f.trim())
        .filter(Boolean)
    : (defaults ?? []);
  const out: Record<string, unknown> = { id: view.id };
  for (const field of wanted) {
    const value = (view as Record<string, unknown>)[field];
    if (value !== undefined) out[field] = value;
  }
  return out as Partial<T> & { id: string };
}

import type { AccountUpdateV1 } from '@wapi/contracts';

/**
 * The management webhook fields (docs/meta-platform.md §3.7, §7.4) projected onto
 * `account.update.v1`. Their `value` has no `metadata.phone_number_id`: they are routed by
 * the WABA, `entry.id`.
 */
export const ACCOUNT_FIELDS = new Set([
  'message_template_status_update',
  'message_template_quality_update',
  'phone_number_quality_update',
  'account_update',
  'business_capability_update',
]);

type Change = AccountUpdateV1['change'];

const rec = (v: unknown): Record<string, unknown> =>
  v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
/** A string (or number, as Meta sends ids and limits either way), cut to `max`; else undefined. */
const text = (v: unknown, max: number): string | undefined =>
  typeof v === 'string' && v.length > 0
    ? v.slice(0, max)
    : typeof v === 'number' && Number.isFinite(v)
      ? String(v).slice(0, max)
      : undefined;
const opt = <K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } =>
  (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
/**
 * A Meta id (digits, as a string or a number): an optional id that is malformed is left out
 * rather than failing the schema, which would quarantine the whole account event for it.
 */
const metaId = (v: unknown): string | undefined => {
  const id = text(v, 32);
  return id && /^[0-9]+$/.test(id) ? id : undefined;
};
const QUALITY = new Set(['GREEN', 'YELLOW', 'RED', 'UNKNOWN']);
const quality = (v: unknown) =>
  typeof v === 'string' && QUALITY.has(v.toUpperCase())
    ? (v.toUpperCase() as 'GREEN' | 'YELLOW' | 'RED' | 'UNKNOWN')
    : undefined;

/**
 * Meta's `value` of one management change → the `change` of an `AccountUpdateV1`, or
 * undefined for a field that is not one of {@link ACCOUNT_FIELDS}. Missing or odd fields are
 * passed through as they are (the queue schema then decides: an item that fails it is
 * quarantined as `invalid_item`, never dropped silently).
 */
export function projectAccountChange(field: string, raw: unknown): Change | undefined {
  const v = rec(raw);
  const template = () => ({
    templateId: text(v.message_template_id, 64) as string,
    name: text(v.message_template_name, 512) as string,
    language: text(v.message_template_language, 15) as string,
  });
  switch (field) {
    case 'message_template_status_update': {
      const reason = text(v.reason, 200);
      return {
        kind: 'template_status',
        ...template(),
        status: String(v.event ?? ''),
        // Meta writes reason "NONE" (or null) when there is none.
        ...opt('reason', reason === 'NONE' ? undefined : reason),
        ...opt('category', text(v.message_template_category, 40)),
        ...opt('detail', text(rec(v.other_info).title, 200)),
      };
    }
    case 'message_template_quality_update':
      return {
        kind: 'template_quality',
        ...template(),
        ...opt('previousQuality', quality(v.previous_quality_score)),
        quality: quality(v.new_quality_score) ?? ('' as 'UNKNOWN'),
      };
    case 'phone_number_quality_update':
      return {
        kind: 'phone_quality',
        displayPhoneNumber: text(v.display_phone_number, 32) as string,
        event: String(v.event ?? ''),
        ...opt('currentLimit', text(v.current_limit, 40)),
        ...opt('previousLimit', text(v.old_limit, 40)),
        ...opt('maxDailyConversationsPerBusiness', text(v.max_daily_conversations_per_business, 40)),
      };
    case 'account_update':
      return {
        kind: 'account',
        event: String(v.event ?? ''),
        ...opt('banState', text(rec(v.ban_info).waba_ban_state, 40)),
        ...opt('violationType', text(rec(v.violation_info).violation_type, 120)),
        ...opt('businessId', metaId(rec(v.waba_info).owner_business_id)),
      };
    case 'business_capability_update': {
      const phones = v.max_phone_numbers_per_business;
      return {
        kind: 'capability',
        ...opt(
          'maxDailyConversationsPerBusiness',
          // Not `max_daily_conversation_per_phone` (older payloads): a per-number figure.
          text(v.max_daily_conversations_per_business, 40),
        ),
        ...opt(
          'maxPhoneNumbersPerBusiness',
          typeof phones === 'number' && Number.isInteger(phones) ? phones : undefined,
        ),
      };
    }
    default:
      return undefined;
  }
}

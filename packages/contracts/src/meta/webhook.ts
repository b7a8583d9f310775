import { type Static, Type } from '@sinclair/typebox';
import { WebhookError } from './graph-error';

const Str = Type.String();

/** `value.statuses[]` (§3.5). Timestamps are strings of unix seconds (§3.3). */
export const StatusObject = Type.Object({
  id: Str,
  status: Type.Union(['sent', 'delivered', 'read', 'failed', 'played'].map((s) => Type.Literal(s))),
  timestamp: Type.String({ pattern: '^[0-9]+$' }),
  recipient_id: Str,
  biz_opaque_callback_data: Type.Optional(Str),
  conversation: Type.Optional(
    Type.Object({
      id: Str,
      expiration_timestamp: Type.Optional(Str),
      origin: Type.Object({ type: Str }),
    }),
  ),
  pricing: Type.Optional(
    Type.Object({ billable: Type.Boolean(), pricing_model: Str, type: Str, category: Str }),
  ),
  errors: Type.Optional(Type.Array(WebhookError)),
});
export type StatusObject = Static<typeof StatusObject>;

/** `value.messages[]` (§3.4): common keys; the type-named object is kept open. */
export const InboundMessage = Type.Object(
  {
    from: Str,
    id: Str,
    timestamp: Type.String({ pattern: '^[0-9]+$' }),
    type: Str,
    context: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    referral: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    errors: Type.Optional(Type.Array(WebhookError)),
  },
  { additionalProperties: true },
);
export type InboundMessage = Static<typeof InboundMessage>;

export const WebhookContact = Type.Object({ profile: Type.Object({ name: Str }), wa_id: Str });
export type WebhookContact = Static<typeof WebhookContact>;

/** `value` of a `messages` change (§3.3). */
export const MessagesChangeValue = Type.Object({
  messaging_product: Type.Literal('whatsapp'),
  metadata: Type.Object({ display_phone_number: Str, phone_number_id: Str }),
  contacts: Type.Optional(Type.Array(WebhookContact)),
  messages: Type.Optional(Type.Array(InboundMessage)),
  statuses: Type.Optional(Type.Array(StatusObject)),
  errors: Type.Optional(Type.Array(WebhookError)),
});
export type MessagesChangeValue = Static<typeof MessagesChangeValue>;

/** `value` of a `user_preferences` change (§9). */
export const UserPreferencesValue = Type.Object({
  messaging_product: Type.Literal('whatsapp'),
  metadata: Type.Object({ display_phone_number: Str, phone_number_id: Str }),
  contacts: Type.Array(WebhookContact),
  user_preferences: Type.Array(
    Type.Object({
      wa_id: Str,
      detail: Str,
      category: Type.Literal('marketing_messages'),
      value: Type.Union([Type.Literal('stop'), Type.Literal('resume')]),
      timestamp: Type.Integer(),
    }),
  ),
});
export type UserPreferencesValue = Static<typeof UserPreferencesValue>;

/** `value` of a `message_template_status_update` change (§3.7). */
export const TemplateStatusUpdateValue = Type.Object({
  event: Str,
  message_template_id: Type.Integer(),
  message_template_name: Str,
  message_template_language: Str,
  reason: Type.Union([Str, Type.Null()]),
  message_template_category: Type.Optional(Str),
  /** §3.7: pause/unpause details, e.g. `{ title: 'UNPAUSE', description }`. */
  other_info: Type.Optional(Type.Object({ title: Str, description: Str })),
  /** §3.7: on a DISABLED template, when it was disabled (unix seconds). */
  disable_info: Type.Optional(Type.Object({ disable_date: Type.Integer() })),
});
export type TemplateStatusUpdateValue = Static<typeof TemplateStatusUpdateValue>;

/** `value` of a `message_template_quality_update` change (§3.7): the template's quality score moved. */
export const TemplateQualityUpdateValue = Type.Object({
  previous_quality_score: Str,
  new_quality_score: Str,
  message_template_id: Type.Integer(),
  message_template_name: Str,
  message_template_language: Str,
});
export type TemplateQualityUpdateValue = Static<typeof TemplateQualityUpdateValue>;

/**
 * `value` of a `phone_number_quality_update` change (§3.7, §5.1, §5.3): the number's messaging
 * limit, throughput or quality flag changed. `old_limit` only on messaging-limit changes;
 * `max_daily_conversations_per_business` is the portfolio's limit (TIER_250 … TIER_UNLIMITED).
 */
export const PhoneNumberQualityUpdateValue = Type.Object({
  display_phone_number: Str,
  /** THROUGHPUT_UPGRADE, ONBOARDING; older: UPGRADE, DOWNGRADE, FLAGGED, UNFLAGGED. */
  event: Str,
  current_limit: Type.Optional(Str),
  old_limit: Type.Optional(Str),
  max_daily_conversations_per_business: Type.Optional(Str),
});
export type PhoneNumberQualityUpdateValue = Static<typeof PhoneNumberQualityUpdateValue>;

/**
 * `value` of an `account_update` change (§3.7): an event about the WhatsApp Business Account,
 * with the detail object of that event (`ban_info` on DISABLED_UPDATE, `violation_info` on
 * ACCOUNT_VIOLATION, `waba_info` on PARTNER_* events, `country` on
 * BUSINESS_PRIMARY_LOCATION_COUNTRY_UPDATE).
 */
export const AccountUpdateValue = Type.Object({
  event: Str,
  ban_info: Type.Optional(Type.Object({ waba_ban_state: Str, waba_ban_date: Str })),
  violation_info: Type.Optional(Type.Object({ violation_type: Str })),
  waba_info: Type.Optional(Type.Object({ waba_id: Str, owner_business_id: Str })),
  country: Type.Optional(Str),
});
export type AccountUpdateValue = Static<typeof AccountUpdateValue>;

/** `value` of a `business_capability_update` change (§3.7, §5.3): the portfolio's capabilities. */
export const BusinessCapabilityUpdateValue = Type.Object({
  /** The portfolio's messaging limit, TIER_250 … TIER_UNLIMITED. */
  max_daily_conversations_per_business: Type.Optional(Str),
  max_phone_numbers_per_business: Type.Optional(Type.Integer()),
  max_phone_numbers_per_waba: Type.Optional(Type.Integer()),
});
export type BusinessCapabilityUpdateValue = Static<typeof BusinessCapabilityUpdateValue>;

export const WebhookChange = Type.Object({
  field: Str,
  value: Type.Record(Type.String(), Type.Unknown()),
});
export type WebhookChange = Static<typeof WebhookChange>;

/** The POST body Meta sends to a callback URL (§3.3); `time` only on non-`messages` fields. */
export const WebhookEnvelope = Type.Object({
  object: Type.Literal('whatsapp_business_account'),
  entry: Type.Array(
    Type.Object({ id: Str, time: Type.Optional(Type.Integer()), changes: Type.Array(WebhookChange) }),
  ),
});
export type WebhookEnvelope = Static<typeof WebhookEnvelope>;

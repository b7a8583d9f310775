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
});
export type TemplateStatusUpdateValue = Static<typeof TemplateStatusUpdateValue>;

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

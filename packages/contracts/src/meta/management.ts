import { type Static, Type } from '@sinclair/typebox';

const Str = Type.String();

/** `POST /{phone-number-id}/media` answer (§10). */
export const MediaUploadResponse = Type.Object({ id: Str });
export type MediaUploadResponse = Static<typeof MediaUploadResponse>;

/** `GET /{media-id}` answer (§10); the URL is valid 5 minutes. `file_size` is a string in Meta's example. */
export const MediaInfo = Type.Object({
  messaging_product: Type.Literal('whatsapp'),
  url: Str,
  mime_type: Str,
  sha256: Str,
  file_size: Type.Union([Str, Type.Integer()]),
  id: Str,
});
export type MediaInfo = Static<typeof MediaInfo>;

/** A template component as created/listed (§7.2, §7.3). */
export const TemplateComponent = Type.Object(
  {
    type: Str,
    format: Type.Optional(Str),
    text: Type.Optional(Str),
    buttons: Type.Optional(Type.Array(Type.Record(Type.String(), Type.Unknown()))),
    example: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  },
  { additionalProperties: true },
);
export type TemplateComponent = Static<typeof TemplateComponent>;

/** `POST /{waba-id}/message_templates` body (§7.2). */
export const CreateTemplateRequest = Type.Object({
  name: Str,
  language: Str,
  category: Str,
  parameter_format: Type.Optional(Type.Union([Type.Literal('named'), Type.Literal('positional')])),
  message_send_ttl_seconds: Type.Optional(Type.Integer()),
  components: Type.Array(TemplateComponent),
});
export type CreateTemplateRequest = Static<typeof CreateTemplateRequest>;

/** `POST /{template-id}` (§7.1, §7.4): only category, components (replaced wholesale) and TTL. */
export const EditTemplateRequest = Type.Object({
  category: Type.Optional(Str),
  components: Type.Optional(Type.Array(TemplateComponent)),
  message_send_ttl_seconds: Type.Optional(Type.Integer()),
});
export type EditTemplateRequest = Static<typeof EditTemplateRequest>;

export const CreateTemplateResponse = Type.Object({ id: Str, status: Str, category: Str });
export type CreateTemplateResponse = Static<typeof CreateTemplateResponse>;

export const MessageTemplate = Type.Object({
  id: Str,
  name: Str,
  language: Str,
  status: Str,
  category: Str,
  parameter_format: Type.Optional(Str),
  components: Type.Array(TemplateComponent),
  /** §2.11: custom TTL, only when set on the template. */
  message_send_ttl_seconds: Type.Optional(Type.Integer()),
});
export type MessageTemplate = Static<typeof MessageTemplate>;

/** Graph list pages (§7.1). */
export const TemplateList = Type.Object({
  data: Type.Array(MessageTemplate),
  paging: Type.Optional(Type.Object({ cursors: Type.Object({ before: Str, after: Str }) })),
});
export type TemplateList = Static<typeof TemplateList>;

/** `GET /oauth/access_token` code exchange (§8.1 step 3; standard Graph shape, unconfirmed). */
export const AccessTokenResponse = Type.Object({
  access_token: Str,
  token_type: Type.Literal('bearer'),
});
export type AccessTokenResponse = Static<typeof AccessTokenResponse>;

/** `GET /debug_token?input_token=` (§8.1 fallback WABA discovery). */
export const DebugTokenResponse = Type.Object({
  data: Type.Object({
    app_id: Str,
    type: Str,
    application: Str,
    is_valid: Type.Boolean(),
    expires_at: Type.Integer(),
    scopes: Type.Array(Str),
    granular_scopes: Type.Array(Type.Object({ scope: Str, target_ids: Type.Optional(Type.Array(Str)) })),
  }),
});
export type DebugTokenResponse = Static<typeof DebugTokenResponse>;

/** `GET /{waba-id}/subscribed_apps` (§8.2). */
export const SubscribedAppsList = Type.Object({
  data: Type.Array(
    Type.Object({
      whatsapp_business_api_data: Type.Object({ id: Str, link: Str, name: Str }),
      override_callback_uri: Type.Optional(Str),
    }),
  ),
});
export type SubscribedAppsList = Static<typeof SubscribedAppsList>;

/** A phone number node (§8.5); which fields appear depends on `fields=`. */
export const PhoneNumberInfo = Type.Object({
  id: Str,
  verified_name: Type.Optional(Str),
  display_phone_number: Type.Optional(Str),
  quality_rating: Type.Optional(Str),
  code_verification_status: Type.Optional(Str),
  platform_type: Type.Optional(Str),
  throughput: Type.Optional(Type.Object({ level: Str })),
  status: Type.Optional(Str),
  name_status: Type.Optional(Str),
  whatsapp_business_manager_messaging_limit: Type.Optional(Str),
  messaging_limit_tier: Type.Optional(Str),
  account_mode: Type.Optional(Str),
  is_official_business_account: Type.Optional(Type.Boolean()),
  webhook_configuration: Type.Optional(Type.Record(Type.String(), Str)),
});
export type PhoneNumberInfo = Static<typeof PhoneNumberInfo>;

export const PhoneNumberList = Type.Object({ data: Type.Array(PhoneNumberInfo) });
export type PhoneNumberList = Static<typeof PhoneNumberList>;

/**
 * `POST /{phone-number-id}` (§8.3, §8.4): one change per call, either the number-level callback
 * override (Meta verifies it with a GET challenge) or the two-step verification PIN (6 digits;
 * 2FA cannot be disabled through the API).
 */
export const UpdatePhoneNumberRequest = Type.Union([
  Type.Object({
    webhook_configuration: Type.Object({
      override_callback_uri: Str,
      verify_token: Type.Optional(Str),
    }),
  }),
  Type.Object({ pin: Type.String({ pattern: '^[0-9]{6}$' }) }),
]);
export type UpdatePhoneNumberRequest = Static<typeof UpdatePhoneNumberRequest>;

/** A WhatsApp Business Account node, `GET /{waba-id}?fields=…` (§7.1, §5.4); fields depend on `fields=`. */
export const WabaInfo = Type.Object(
  {
    id: Str,
    name: Type.Optional(Str),
    message_template_namespace: Type.Optional(Str),
  },
  { additionalProperties: true },
);
export type WabaInfo = Static<typeof WabaInfo>;

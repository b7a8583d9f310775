import { type Static, Type } from '@sinclair/typebox';

// The control API of meta-sandbox (`/_sandbox/…`, docs/meta-sandbox.md): the simulated world
// other apps' tests seed and drive. The sandbox validates against these schemas and declares
// them as its response schemas; testkit's `startMetaSandbox` is typed by them. Section numbers
// (§n) are those of docs/meta-platform.md.

const Opt = Type.Optional;
const Id = Type.String({ pattern: '^[0-9]{1,20}$' });

/** §3.7: the webhook fields an app can subscribe to. */
export const META_WEBHOOK_FIELDS = [
  'account_alerts',
  'account_review_update',
  'account_update',
  'automatic_events',
  'business_capability_update',
  'history',
  'message_template_components_update',
  'message_template_quality_update',
  'message_template_status_update',
  'messages',
  'partner_solutions',
  'payment_configuration_update',
  'phone_number_name_update',
  'phone_number_quality_update',
  'security',
  'smb_app_state_sync',
  'smb_message_echoes',
  'template_category_update',
  'user_preferences',
] as const;
export const MetaWebhookField = Type.Union(META_WEBHOOK_FIELDS.map((f) => Type.Literal(f)));
export type MetaWebhookField = Static<typeof MetaWebhookField>;

/**
 * §5.3 messaging-limit tiers (and §3.7 `phone_number_quality_update` values). TIER_1K and
 * TIER_50 come from the old per-number ladder.
 */
export const MESSAGING_TIERS = [
  'TIER_50',
  'TIER_250',
  'TIER_1K',
  'TIER_2K',
  'TIER_10K',
  'TIER_100K',
  'TIER_UNLIMITED',
  'TIER_NOT_SET',
] as const;

/**
 * The unique business-initiated recipients per rolling 24 h each limited tier allows (§5.3).
 * `TIER_UNLIMITED` and `TIER_NOT_SET` are not here: what they mean is each reader's to say.
 */
export const MESSAGING_TIER_REACH: Readonly<Record<string, number>> = {
  TIER_50: 50,
  TIER_250: 250,
  TIER_1K: 1_000,
  TIER_2K: 2_000,
  TIER_10K: 10_000,
  TIER_100K: 100_000,
};

/** A Meta app of the simulated world. Without `id`/`secret` the sandbox generates them. */
export const SandboxSeedApp = Type.Object({
  id: Opt(Id),
  name: Opt(Type.String({ maxLength: 100 })),
  /** The app secret: the key of `X-Hub-Signature-256` (§3.2). 8+ characters. */
  secret: Opt(Type.String({ minLength: 8 })),
  /** Where webhooks go. With `verifyToken` it is verified by the GET handshake (§3.1). */
  callbackUrl: Opt(Type.String({ pattern: '^https?://' })),
  verifyToken: Opt(Type.String()),
  /** §3.7 webhook fields the app subscribes to; all of them when absent. */
  fields: Opt(Type.Array(MetaWebhookField, { uniqueItems: true })),
});
export type SandboxSeedApp = Static<typeof SandboxSeedApp>;

export const SandboxSeedPhoneNumber = Type.Object({
  id: Opt(Id),
  wabaId: Opt(Type.String()),
  /** Digits, optionally with a leading `+`. */
  display: Type.String({ pattern: '^\\+?[0-9]{6,15}$' }),
  verifiedName: Opt(Type.String()),
  /** `false`: the number must be registered (`POST /{pnid}/register`) first. */
  registered: Opt(Type.Boolean()),
  pin: Opt(Type.String({ pattern: '^[0-9]{6}$' })),
  /** §5.1: 80 by default, 20 for coexistence numbers, up to 1,000 after the upgrade. */
  throughputMps: Opt(Type.Integer({ minimum: 1, maximum: 1_000 })),
  qualityRating: Opt(
    Type.Union((['GREEN', 'YELLOW', 'RED', 'NA', 'UNKNOWN'] as const).map((q) => Type.Literal(q))),
  ),
  messagingLimit: Opt(Type.Union(MESSAGING_TIERS.map((t) => Type.Literal(t)))),
});
export type SandboxSeedPhoneNumber = Static<typeof SandboxSeedPhoneNumber>;

export const SandboxSeedWaba = Type.Object({
  id: Opt(Id),
  name: Opt(Type.String()),
  /**
   * The business portfolio owning the WABA (random when absent): WABAs with the same one share
   * its messaging limit (§5.3), and Embedded Signup's event hands it to the front end.
   */
  businessId: Opt(Id),
  /** Apps subscribed to this WABA's webhooks (as if `POST /{waba-id}/subscribed_apps` was called). */
  subscribedApps: Opt(Type.Array(Type.String())),
  phoneNumbers: Opt(Type.Array(SandboxSeedPhoneNumber)),
});
export type SandboxSeedWaba = Static<typeof SandboxSeedWaba>;

export const SandboxSeedToken = Type.Object({
  value: Opt(Type.String({ minLength: 8 })),
  appId: Type.String(),
  kind: Opt(Type.Union([Type.Literal('system'), Type.Literal('business')])),
  wabaIds: Opt(Type.Array(Type.String())),
  expiresInMs: Opt(Type.Integer({ minimum: 1 })),
});
export type SandboxSeedToken = Static<typeof SandboxSeedToken>;

/** A simulated WhatsApp user and how they behave. */
export const SandboxSeedCustomer = Type.Object({
  waId: Type.String({ pattern: '^[0-9]{6,15}$' }),
  name: Opt(Type.String()),
  onWhatsApp: Opt(Type.Boolean()),
  online: Opt(Type.Boolean()),
  readReceipts: Opt(Type.Boolean()),
  marketing: Opt(Type.Union([Type.Literal('stop'), Type.Literal('resume')])),
  /** §6 per-user marketing limit: marketing templates per rolling 24 h; `null` = no cap. */
  marketingCap: Opt(Type.Union([Type.Integer({ minimum: 0, maximum: 1_000 }), Type.Null()])),
  /** §6 US (+1) marketing pause for this user; `null` = SANDBOX_US_MARKETING_PAUSE. */
  usMarketingPause: Opt(Type.Union([Type.Boolean(), Type.Null()])),
  /** §4 130472: the user is in a marketing experiment. */
  marketingExperiment: Opt(Type.Boolean()),
  /** §12: blocked the business — messages stay `sent`. */
  blocked: Opt(Type.Boolean()),
  /** §3.5: plays voice notes (`played` after `read`). */
  playsVoiceNotes: Opt(Type.Boolean()),
});
export type SandboxSeedCustomer = Static<typeof SandboxSeedCustomer>;

export const TemplateStatusName = Type.Union(
  (['PENDING', 'APPROVED', 'REJECTED', 'PAUSED', 'DISABLED'] as const).map((s) => Type.Literal(s)),
);
export type TemplateStatusName = Static<typeof TemplateStatusName>;

export const SandboxSeedTemplate = Type.Object({
  id: Opt(Type.String()),
  wabaId: Type.String(),
  name: Type.String({ pattern: '^[a-z0-9_]{1,512}$' }),
  language: Type.String(),
  category: Type.Union((['MARKETING', 'UTILITY', 'AUTHENTICATION'] as const).map((c) => Type.Literal(c))),
  /** APPROVED when absent. */
  status: Opt(TemplateStatusName),
  parameterFormat: Opt(Type.Union([Type.Literal('named'), Type.Literal('positional')])),
  components: Type.Array(Type.Record(Type.String(), Type.Unknown())),
  /** §2.11 custom TTL; checked against the category's range like the Graph create call. */
  messageSendTtlSeconds: Opt(Type.Integer()),
});
export type SandboxSeedTemplate = Static<typeof SandboxSeedTemplate>;

/** The world (`SANDBOX_SEED_FILE`, `POST /_sandbox/world`). Missing ids are generated. */
export const SandboxSeed = Type.Object({
  apps: Opt(Type.Array(SandboxSeedApp)),
  wabas: Opt(Type.Array(SandboxSeedWaba)),
  tokens: Opt(Type.Array(SandboxSeedToken)),
  customers: Opt(Type.Array(SandboxSeedCustomer)),
  templates: Opt(Type.Array(SandboxSeedTemplate)),
});
export type SandboxSeed = Static<typeof SandboxSeed>;

/** An app as the control API shows it. */
export const SandboxAppView = Type.Object({
  id: Type.String(),
  name: Type.String(),
  secret: Type.String(),
  callbackUrl: Opt(Type.String()),
  verifyToken: Opt(Type.String()),
  fields: Type.Array(Type.String()),
});
export type SandboxAppView = Static<typeof SandboxAppView>;

export const SandboxTokenView = Type.Object({
  value: Type.String(),
  appId: Type.String(),
  kind: Type.Union([Type.Literal('system'), Type.Literal('business')]),
  wabaIds: Type.Array(Type.String()),
});
export type SandboxTokenView = Static<typeof SandboxTokenView>;

/** A simulated user with every knob resolved. */
export const SandboxCustomerView = Type.Object({
  waId: Type.String(),
  name: Type.String(),
  onWhatsApp: Type.Boolean(),
  online: Type.Boolean(),
  readReceipts: Type.Boolean(),
  marketing: Type.Union([Type.Literal('stop'), Type.Literal('resume')]),
  marketingCap: Type.Union([Type.Integer(), Type.Null()]),
  usMarketingPause: Type.Union([Type.Boolean(), Type.Null()]),
  marketingExperiment: Type.Boolean(),
  blocked: Type.Boolean(),
  playsVoiceNotes: Type.Boolean(),
});
export type SandboxCustomerView = Static<typeof SandboxCustomerView>;

/** `POST /_sandbox/world`: what the seed created. */
export const SandboxWorldResponse = Type.Object({
  apps: Type.Array(SandboxAppView),
  wabas: Type.Array(
    Type.Object({
      id: Type.String(),
      name: Type.String(),
      businessId: Type.String(),
      phoneNumbers: Type.Array(Type.Object({ id: Type.String(), display: Type.String() })),
    }),
  ),
  tokens: Type.Array(SandboxTokenView),
  customers: Type.Array(SandboxCustomerView),
  templates: Type.Array(
    Type.Object({ id: Type.String(), name: Type.String(), language: Type.String(), status: Type.String() }),
  ),
});
export type SandboxWorldResponse = Static<typeof SandboxWorldResponse>;

/** What a simulated customer sends; the sandbox builds Meta's inbound message from it (§3.4). */
export const SandboxInboundSpec = Type.Object({
  kind: Type.Union(
    (
      [
        'text',
        'image',
        'video',
        'audio',
        'document',
        'sticker',
        'button',
        'stop_promotions',
        'button_reply',
        'list_reply',
        'location',
        'reaction',
        'contacts',
        'order',
        'unsupported',
      ] as const
    ).map((k) => Type.Literal(k)),
  ),
  text: Opt(Type.String({ maxLength: 65_536 })),
  caption: Opt(Type.String()),
  mimeType: Opt(Type.String()),
  filename: Opt(Type.String()),
  /** Base64 media bytes; a small placeholder is generated when absent. */
  data: Opt(Type.String()),
  /** Size the user's media claims (bytes); above 100 MB it arrives as an error 131052 (§10). */
  fileSize: Opt(Type.Integer({ minimum: 0, maximum: 2 ** 40 })),
  voice: Opt(Type.Boolean()),
  animated: Opt(Type.Boolean()),
  payload: Opt(Type.String()),
  replyId: Opt(Type.String()),
  title: Opt(Type.String()),
  description: Opt(Type.String()),
  latitude: Opt(Type.Number()),
  longitude: Opt(Type.Number()),
  name: Opt(Type.String()),
  address: Opt(Type.String()),
  url: Opt(Type.String()),
  /** Target of a reaction; quoted message for replies and template button taps. */
  messageId: Opt(Type.String()),
  emoji: Opt(Type.String()),
  contacts: Opt(Type.Array(Type.Record(Type.String(), Type.Unknown()))),
  order: Opt(Type.Record(Type.String(), Type.Unknown())),
  unsupportedType: Opt(Type.String()),
  referral: Opt(Type.Record(Type.String(), Type.Unknown())),
  forwarded: Opt(Type.Boolean()),
});
export type SandboxInboundSpec = Static<typeof SandboxInboundSpec>;

/** `POST /_sandbox/inbound`: a customer sends messages to a business number. */
export const SandboxInboundRequest = Type.Object({
  phoneNumberId: Type.String(),
  from: Type.String({ pattern: '^[0-9]{6,15}$' }),
  name: Opt(Type.String()),
  messages: Type.Array(SandboxInboundSpec, { minItems: 1, maxItems: 1_000 }),
});
export type SandboxInboundRequest = Static<typeof SandboxInboundRequest>;
export const SandboxInboundResponse = Type.Object({ ids: Type.Array(Type.String()) });
export type SandboxInboundResponse = Static<typeof SandboxInboundResponse>;

/** `POST /_sandbox/user-preferences` (§9). */
export const SandboxUserPreferencesRequest = Type.Object({
  phoneNumberId: Type.String(),
  waId: Type.String({ pattern: '^[0-9]{6,15}$' }),
  value: Type.Union([Type.Literal('stop'), Type.Literal('resume')]),
});
export type SandboxUserPreferencesRequest = Static<typeof SandboxUserPreferencesRequest>;

/** `POST /_sandbox/templates/:id/status` (§7.4). */
export const SandboxTemplateStatusRequest = Type.Object({
  status: TemplateStatusName,
  reason: Opt(Type.String()),
});
export type SandboxTemplateStatusRequest = Static<typeof SandboxTemplateStatusRequest>;

/** `POST /_sandbox/oauth-codes`: an Embedded Signup code (§8.1), valid 30 s. */
export const SandboxOAuthCodeRequest = Type.Object({
  appId: Type.String(),
  wabaIds: Type.Array(Type.String()),
});
export type SandboxOAuthCodeRequest = Static<typeof SandboxOAuthCodeRequest>;
export const SandboxOAuthCodeResponse = Type.Object({ code: Type.String(), expiresAt: Type.Integer() });
export type SandboxOAuthCodeResponse = Static<typeof SandboxOAuthCodeResponse>;

/** `PUT /_sandbox/apps/:id/webhook` (§3.1). */
export const SandboxAppWebhookRequest = Type.Object({
  callbackUrl: Type.String({ pattern: '^https?://', maxLength: 2_000 }),
  verifyToken: Type.String({ minLength: 1 }),
});
export type SandboxAppWebhookRequest = Static<typeof SandboxAppWebhookRequest>;

/** `PUT /_sandbox/apps/:id/fields` (§3.7). */
export const SandboxAppFieldsRequest = Type.Object({
  fields: Type.Array(MetaWebhookField, { uniqueItems: true }),
});
export type SandboxAppFieldsRequest = Static<typeof SandboxAppFieldsRequest>;

/** Webhook delivery faults (`PUT /_sandbox/faults`, §12). */
export const SandboxFaults = Type.Object({
  /** Probability that a delivered POST is sent again with the identical body. */
  duplicateRate: Opt(Type.Number({ minimum: 0, maximum: 1 })),
  /** Shuffle batches and hold back statuses of one message (§3.6). */
  reorder: Opt(Type.Boolean()),
  /** Extra delay before a POST's first attempt (ms). */
  delayMs: Opt(Type.Integer({ minimum: 0, maximum: 600_000 })),
  /** Skip `delivered`, send only `read` (§3.5). */
  dropDelivered: Opt(Type.Boolean()),
  /** Probability of `failed` after `delivered` (§3.5). */
  deliveredThenFailed: Opt(Type.Number({ minimum: 0, maximum: 1 })),
});
export type SandboxFaults = Static<typeof SandboxFaults>;
export const SandboxFaultsView = Type.Required(SandboxFaults);
export type SandboxFaultsView = Static<typeof SandboxFaultsView>;

/** Status timings (`PUT /_sandbox/timings`). */
export const SandboxTimings = Type.Object({
  sentMs: Opt(Type.Integer({ minimum: 0 })),
  deliveredMs: Opt(Type.Integer({ minimum: 0 })),
  readMs: Opt(Type.Integer({ minimum: 0 })),
  deterministic: Opt(Type.Boolean()),
});
export type SandboxTimings = Static<typeof SandboxTimings>;
export const SandboxTimingsView = Type.Required(SandboxTimings);
export type SandboxTimingsView = Static<typeof SandboxTimingsView>;

const StatusName = Type.Union(
  (['sent', 'delivered', 'read', 'failed', 'played'] as const).map((s) => Type.Literal(s)),
);

/** A message the platform sent, with the statuses the simulated user produced. */
export const SandboxSentMessage = Type.Object({
  wamid: Type.String(),
  phoneNumberId: Type.String(),
  to: Type.String(),
  type: Type.String(),
  payload: Type.Record(Type.String(), Type.Unknown()),
  at: Type.Number(),
  version: Type.Integer(),
  statuses: Type.Array(
    Type.Object({ status: StatusName, at: Type.Number(), errorCode: Opt(Type.Integer()) }),
  ),
  awaitingDevice: Type.Boolean(),
  ttlExpiresAt: Opt(Type.Number()),
  droppedAt: Opt(Type.Number()),
});
export type SandboxSentMessage = Static<typeof SandboxSentMessage>;
export const SandboxSentMessages = Type.Object({ messages: Type.Array(SandboxSentMessage) });
export type SandboxSentMessages = Static<typeof SandboxSentMessages>;

/** A message a simulated customer sent. */
export const SandboxInboundRecord = Type.Object({
  wamid: Type.String(),
  phoneNumberId: Type.String(),
  from: Type.String(),
  type: Type.String(),
  message: Type.Record(Type.String(), Type.Unknown()),
  at: Type.Number(),
  readByBusiness: Type.Boolean(),
});
export type SandboxInboundRecord = Static<typeof SandboxInboundRecord>;
export const SandboxInboundRecords = Type.Object({ messages: Type.Array(SandboxInboundRecord) });
export type SandboxInboundRecords = Static<typeof SandboxInboundRecords>;

/** One webhook POST of the delivery engine. */
export const SandboxWebhookDelivery = Type.Object({
  id: Type.Integer(),
  url: Type.String(),
  appId: Type.String(),
  state: Type.Union(
    (['queued', 'in-flight', 'waiting-retry', 'delivered', 'given-up'] as const).map((s) => Type.Literal(s)),
  ),
  attempts: Type.Integer(),
  /** Updates (statuses, messages, other changes) in the POST. */
  changes: Type.Integer(),
  lastResult: Opt(Type.String()),
  duplicatesSent: Type.Integer(),
  signature: Type.String(),
  /** The exact body sent (the bytes as text). */
  body: Type.String(),
});
export type SandboxWebhookDelivery = Static<typeof SandboxWebhookDelivery>;

/** `GET /_sandbox/webhooks`: recent deliveries (newest last) and the engine's counters. */
export const SandboxWebhooks = Type.Object({
  stats: Type.Object({
    posts: Type.Integer(),
    delivered: Type.Integer(),
    failedAttempts: Type.Integer(),
    duplicates: Type.Integer(),
    givenUp: Type.Integer(),
    queuedChanges: Type.Integer(),
    inFlight: Type.Integer(),
    waitingRetry: Type.Integer(),
  }),
  /** Nothing queued, in flight or waiting for a retry. */
  idle: Type.Boolean(),
  deliveries: Type.Array(SandboxWebhookDelivery),
});
export type SandboxWebhooks = Static<typeof SandboxWebhooks>;

/** `POST /_sandbox/wabas`. */
export const SandboxWabaCreated = Type.Object({
  id: Type.String(),
  name: Type.String(),
  businessId: Type.String(),
});
export type SandboxWabaCreated = Static<typeof SandboxWabaCreated>;

/** `POST /_sandbox/phone-numbers`: a number on a WABA. */
export const SandboxPhoneNumberRequest = Type.Intersect([
  SandboxSeedPhoneNumber,
  Type.Object({ wabaId: Type.String() }),
]);
export type SandboxPhoneNumberRequest = Static<typeof SandboxPhoneNumberRequest>;
export const SandboxPhoneNumberCreated = Type.Object({
  id: Type.String(),
  wabaId: Type.String(),
  display: Type.String(),
  registered: Type.Boolean(),
});
export type SandboxPhoneNumberCreated = Static<typeof SandboxPhoneNumberCreated>;

/** `POST /_sandbox/tokens/:value/revoke`. */
export const SandboxRevoked = Type.Object({ revoked: Type.Boolean() });
/** `POST /_sandbox/user-preferences`: the user's marketing preference now. */
export const SandboxMarketingPreference = Type.Object({
  marketing: Type.Union([Type.Literal('stop'), Type.Literal('resume')]),
});
/** `POST /_sandbox/templates/:id/status`. */
export const SandboxTemplateStatusResponse = Type.Object({ id: Type.String(), status: TemplateStatusName });
/** `POST /_sandbox/reset`. */
export const SandboxResetResponse = Type.Object({ reset: Type.Boolean() });

// ---------------------------------------------------------------------------------------
// Number health and account events (§3.7, §5.1, §5.3, §7.4, §8.5): what Meta decides about a
// number, a template or an account, played by a test. Each sends the webhook Meta would send.

/** §8.5 `quality_rating` of a phone number. */
export const PhoneQualityRating = Type.Union(
  (['GREEN', 'YELLOW', 'RED', 'NA', 'UNKNOWN'] as const).map((q) => Type.Literal(q)),
);
export type PhoneQualityRating = Static<typeof PhoneQualityRating>;
export const MessagingTier = Type.Union(MESSAGING_TIERS.map((t) => Type.Literal(t)));
export type MessagingTier = Static<typeof MessagingTier>;

/** §3.7 `phone_number_quality_update` events: current ones first, then the older ladder's. */
export const PHONE_QUALITY_EVENTS = [
  'ONBOARDING',
  'THROUGHPUT_UPGRADE',
  'UPGRADE',
  'DOWNGRADE',
  'FLAGGED',
  'UNFLAGGED',
] as const;

/**
 * `POST /_sandbox/phone-numbers/:id/quality`: at least one field. `messagingLimit` is the
 * business portfolio's (§5.3), so it applies to every number of the portfolio; `throughputLevel`
 * `HIGH` is 1,000 messages/s and `STANDARD` the sandbox default (§5.1). Without `event` the
 * sandbox picks the one Meta would send for the change (none when nothing changed).
 */
export const SandboxPhoneNumberQualityRequest = Type.Object(
  {
    qualityRating: Opt(PhoneQualityRating),
    messagingLimit: Opt(MessagingTier),
    throughputLevel: Opt(Type.Union([Type.Literal('STANDARD'), Type.Literal('HIGH')])),
    event: Opt(Type.Union(PHONE_QUALITY_EVENTS.map((e) => Type.Literal(e)))),
  },
  { minProperties: 1 },
);
export type SandboxPhoneNumberQualityRequest = Static<typeof SandboxPhoneNumberQualityRequest>;

/** The number after the change, and the `phone_number_quality_update` value sent (if any). */
export const SandboxPhoneNumberQualityResponse = Type.Object({
  id: Type.String(),
  qualityRating: Type.String(),
  messagingLimit: Type.String(),
  throughputLevel: Type.Union([Type.Literal('STANDARD'), Type.Literal('HIGH')]),
  throughputMps: Type.Integer(),
  webhook: Opt(Type.Record(Type.String(), Type.Unknown())),
});
export type SandboxPhoneNumberQualityResponse = Static<typeof SandboxPhoneNumberQualityResponse>;

/**
 * `POST /_sandbox/wabas/:id/account-update`: an `account_update` event (§3.7). DISABLED_UPDATE
 * carries `banInfo` (default: DISABLE, today); ACCOUNT_VIOLATION needs `violationType`;
 * BUSINESS_PRIMARY_LOCATION_COUNTRY_UPDATE needs `country`; PARTNER_* and MM_LITE_TERMS_SIGNED
 * get the WABA's `waba_info`.
 */
export const SandboxAccountUpdateRequest = Type.Object({
  event: Type.String({ pattern: '^[A-Z_]{1,64}$' }),
  banInfo: Opt(
    Type.Object({
      wabaBanState: Type.Union(
        (['DISABLE', 'REINSTATE', 'SCHEDULE_FOR_DISABLE'] as const).map((s) => Type.Literal(s)),
      ),
      /** As Meta writes it, e.g. `April 17, 2025`; default: the sandbox's today. */
      wabaBanDate: Opt(Type.String({ minLength: 1, maxLength: 64 })),
    }),
  ),
  violationType: Opt(Type.String({ minLength: 1, maxLength: 120 })),
  country: Opt(Type.String({ pattern: '^[A-Z]{2}$' })),
});
export type SandboxAccountUpdateRequest = Static<typeof SandboxAccountUpdateRequest>;

/**
 * `POST /_sandbox/wabas/:id/capability`: a `business_capability_update` (§3.7). A new
 * `maxDailyConversationsPerBusiness` is the portfolio's messaging limit (§5.3) and applies to
 * every number of the portfolio.
 */
export const SandboxCapabilityUpdateRequest = Type.Object(
  {
    maxDailyConversationsPerBusiness: Opt(
      Type.Union(
        (['TIER_250', 'TIER_2K', 'TIER_10K', 'TIER_100K', 'TIER_UNLIMITED'] as const).map((t) =>
          Type.Literal(t),
        ),
      ),
    ),
    maxPhoneNumbersPerBusiness: Opt(Type.Integer({ minimum: 1, maximum: 100_000 })),
    maxPhoneNumbersPerWaba: Opt(Type.Integer({ minimum: 1, maximum: 100_000 })),
  },
  { minProperties: 1 },
);
export type SandboxCapabilityUpdateRequest = Static<typeof SandboxCapabilityUpdateRequest>;

/** The WABA and the webhook `value` that was sent (account and capability updates). */
export const SandboxWabaEventResponse = Type.Object({
  wabaId: Type.String(),
  field: Type.String(),
  webhook: Type.Record(Type.String(), Type.Unknown()),
});
export type SandboxWabaEventResponse = Static<typeof SandboxWabaEventResponse>;

/** `POST /_sandbox/templates/:id/quality`: the template's quality score changes (§3.7, §7.4). */
export const TemplateQualityScore = Type.Union(
  (['GREEN', 'YELLOW', 'RED', 'UNKNOWN'] as const).map((q) => Type.Literal(q)),
);
export const SandboxTemplateQualityRequest = Type.Object({ quality: TemplateQualityScore });
export type SandboxTemplateQualityRequest = Static<typeof SandboxTemplateQualityRequest>;
export const SandboxTemplateQualityResponse = Type.Object({
  id: Type.String(),
  previousQuality: TemplateQualityScore,
  quality: TemplateQualityScore,
});
export type SandboxTemplateQualityResponse = Static<typeof SandboxTemplateQualityResponse>;

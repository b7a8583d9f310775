import { type Static, type TSchema, Type } from '@sinclair/typebox';

/**
 * The queue registry: queue name -> payload schema -> default job options.
 *
 * NEVER RENAME a queue: names are persisted in Redis, so a rename strands every job
 * already queued. A breaking payload change gets a new version (`message.send.v2`) and
 * both run side by side until the old queue drains.
 *
 * Payload schemas are closed at every depth: every object has `additionalProperties:
 * false`, every string and array is bounded, and there is no `Unknown`/`Any` and no
 * open-keyed record. That keeps secrets out of job payloads by construction (there is no
 * field for a token, and no room for one) and bounds what a job can cost. A test walks
 * every registered schema and fails on any open or unbounded node, so keep it that way:
 * a producer that receives a wider shape (a webhook, an API body) projects it onto these
 * schemas before enqueueing. Adding a member to a union is backward compatible only once
 * the consumer is deployed first.
 */

const closed = { additionalProperties: false } as const;
/** A bounded string. */
const Str = (maxLength: number, minLength = 1) => Type.String({ minLength, maxLength });
const Opt = <T extends TSchema>(schema: T) => Type.Optional(schema);
const Id = (description: string) => Type.String({ minLength: 1, maxLength: 128, description });
const WaId = Type.String({
  pattern: '^[0-9]{6,15}$',
  maxLength: 15,
  description: 'WhatsApp user id (digits, no +)',
});
const Wamid = Type.String({ minLength: 1, maxLength: 256, description: 'Meta message id (wamid.…)' });
const IsoTime = Type.String({ format: 'date-time', maxLength: 40, description: 'ISO-8601 timestamp' });
const Url = Type.String({ format: 'uri', maxLength: 2_000 });
const Latitude = Type.Number({ minimum: -90, maximum: 90 });
const Longitude = Type.Number({ minimum: -180, maximum: 180 });

export const MessageCategory = Type.Union([
  Type.Literal('marketing'),
  Type.Literal('utility'),
  Type.Literal('authentication'),
  Type.Literal('service'),
]);
export type MessageCategory = Static<typeof MessageCategory>;

// ---------------------------------------------------------------------------------------
// Outbound content (message.send.v1). Template components and interactive objects use
// Meta's field names (reference §2.5–§2.7, §5.5), so the sender passes them through as-is.

/** Media by uploaded `id` or by public `link`: exactly one of the two (§2.4). */
const MediaRef = Type.Union([Type.Object({ id: Str(128) }, closed), Type.Object({ link: Url }, closed)]);

/** A document by id or link, with the file name the recipient sees. */
const DocumentRef = Type.Union([
  Type.Object({ id: Str(128), filename: Opt(Str(240)) }, closed),
  Type.Object({ link: Url, filename: Opt(Str(240)) }, closed),
]);

/** Template text parameter; `parameter_name` only for named-parameter templates (§2.7). */
const TextParameter = Type.Object(
  {
    type: Type.Literal('text'),
    text: Str(1_024),
    parameter_name: Opt(Type.String({ pattern: '^[a-z0-9_]{1,60}$', maxLength: 60 })),
  },
  closed,
);
const CurrencyParameter = Type.Object(
  {
    type: Type.Literal('currency'),
    currency: Type.Object(
      {
        fallback_value: Str(64),
        code: Type.String({ pattern: '^[A-Z]{3}$', maxLength: 3, description: 'ISO 4217' }),
        amount_1000: Type.Integer(),
      },
      closed,
    ),
    parameter_name: Opt(Type.String({ pattern: '^[a-z0-9_]{1,60}$', maxLength: 60 })),
  },
  closed,
);
const DateTimeParameter = Type.Object(
  {
    type: Type.Literal('date_time'),
    date_time: Type.Object({ fallback_value: Str(64) }, closed),
    parameter_name: Opt(Type.String({ pattern: '^[a-z0-9_]{1,60}$', maxLength: 60 })),
  },
  closed,
);
const MediaParameter = Type.Union([
  Type.Object({ type: Type.Literal('image'), image: MediaRef }, closed),
  Type.Object({ type: Type.Literal('video'), video: MediaRef }, closed),
  Type.Object({ type: Type.Literal('document'), document: DocumentRef }, closed),
]);
const LocationParameter = Type.Object(
  {
    type: Type.Literal('location'),
    location: Type.Object(
      { latitude: Latitude, longitude: Longitude, name: Opt(Str(100)), address: Opt(Str(300)) },
      closed,
    ),
  },
  closed,
);

/** A button's `index`: Meta's examples use both a number and a string (§2.7). */
const ButtonIndex = Type.Union([
  Type.Integer({ minimum: 0, maximum: 9 }),
  Type.String({ pattern: '^[0-9]$', maxLength: 1 }),
]);

/** One component of a template send (§2.7, §7.3): header, body, or one button's values. */
export const TemplateSendComponentV1 = Type.Union([
  Type.Object(
    {
      type: Type.Literal('header'),
      parameters: Type.Array(Type.Union([TextParameter, MediaParameter, LocationParameter]), {
        minItems: 1,
        maxItems: 1,
      }),
    },
    closed,
  ),
  Type.Object(
    {
      type: Type.Literal('body'),
      parameters: Type.Array(Type.Union([TextParameter, CurrencyParameter, DateTimeParameter]), {
        minItems: 1,
        maxItems: 100,
      }),
    },
    closed,
  ),
  Type.Object(
    {
      type: Type.Literal('button'),
      sub_type: Type.Literal('quick_reply'),
      index: ButtonIndex,
      parameters: Type.Array(Type.Object({ type: Type.Literal('payload'), payload: Str(1_000) }, closed), {
        minItems: 1,
        maxItems: 1,
      }),
    },
    closed,
  ),
  Type.Object(
    {
      type: Type.Literal('button'),
      sub_type: Type.Literal('url'),
      index: ButtonIndex,
      parameters: Type.Array(Type.Object({ type: Type.Literal('text'), text: Str(2_000) }, closed), {
        minItems: 1,
        maxItems: 1,
      }),
    },
    closed,
  ),
  Type.Object(
    {
      type: Type.Literal('button'),
      sub_type: Type.Literal('copy_code'),
      index: ButtonIndex,
      parameters: Type.Array(
        Type.Object({ type: Type.Literal('coupon_code'), coupon_code: Str(20) }, closed),
        { minItems: 1, maxItems: 1 },
      ),
    },
    closed,
  ),
  Type.Object(
    {
      type: Type.Literal('button'),
      sub_type: Type.Literal('flow'),
      index: ButtonIndex,
      parameters: Type.Array(
        Type.Object(
          {
            type: Type.Literal('action'),
            action: Type.Object({ flow_token: Opt(Str(256)) }, closed),
          },
          closed,
        ),
        { minItems: 1, maxItems: 1 },
      ),
    },
    closed,
  ),
]);
export type TemplateSendComponentV1 = Static<typeof TemplateSendComponentV1>;

/** Interactive header (§2.5): text ≤ 60, or media. */
const InteractiveHeader = Type.Union([
  Type.Object({ type: Type.Literal('text'), text: Str(60) }, closed),
  Type.Object({ type: Type.Literal('image'), image: MediaRef }, closed),
  Type.Object({ type: Type.Literal('video'), video: MediaRef }, closed),
  Type.Object({ type: Type.Literal('document'), document: DocumentRef }, closed),
]);
const Footer = Type.Object({ text: Str(60) }, closed);

/** An interactive message (§2.5, §2.6 and the other types Meta lists there), by `type`. */
export const InteractiveContentV1 = Type.Union([
  Type.Object(
    {
      type: Type.Literal('button'),
      header: Opt(InteractiveHeader),
      body: Type.Object({ text: Str(1_024) }, closed),
      footer: Opt(Footer),
      action: Type.Object(
        {
          buttons: Type.Array(
            Type.Object(
              {
                type: Type.Literal('reply'),
                reply: Type.Object({ id: Str(256), title: Str(20) }, closed),
              },
              closed,
            ),
            { minItems: 1, maxItems: 3 },
          ),
        },
        closed,
      ),
    },
    closed,
  ),
  Type.Object(
    {
      type: Type.Literal('list'),
      header: Opt(Type.Object({ type: Type.Literal('text'), text: Str(60) }, closed)),
      body: Type.Object({ text: Str(4_096) }, closed),
      footer: Opt(Footer),
      action: Type.Object(
        {
          button: Str(20),
          sections: Type.Array(
            Type.Object(
              {
                title: Opt(Str(24)),
                // Meta allows 10 rows in total across sections; the schema bounds each one.
                rows: Type.Array(
                  Type.Object({ id: Str(200), title: Str(24), description: Opt(Str(72)) }, closed),
                  { minItems: 1, maxItems: 10 },
                ),
              },
              closed,
            ),
            { minItems: 1, maxItems: 10 },
          ),
        },
        closed,
      ),
    },
    closed,
  ),
  Type.Object(
    {
      type: Type.Literal('cta_url'),
      header: Opt(InteractiveHeader),
      body: Opt(Type.Object({ text: Str(1_024) }, closed)),
      footer: Opt(Footer),
      action: Type.Object(
        {
          name: Type.Literal('cta_url'),
          parameters: Type.Object({ display_text: Str(20), url: Url }, closed),
        },
        closed,
      ),
    },
    closed,
  ),
  Type.Object(
    {
      type: Type.Literal('flow'),
      header: Opt(InteractiveHeader),
      body: Type.Object({ text: Str(1_024) }, closed),
      footer: Opt(Footer),
      action: Type.Object(
        {
          name: Type.Literal('flow'),
          parameters: Type.Object(
            {
              flow_message_version: Type.Literal('3'),
              flow_id: Opt(Str(64)),
              flow_name: Opt(Str(200)),
              flow_cta: Str(30),
              flow_token: Opt(Str(256)),
              mode: Opt(Type.Union([Type.Literal('draft'), Type.Literal('published')])),
              flow_action: Opt(Type.Union([Type.Literal('navigate'), Type.Literal('data_exchange')])),
              // Screen data is free-form in Meta's API; it is left out here on purpose
              // (closed payloads). Flows that need it get a dedicated, typed field.
              flow_action_payload: Opt(Type.Object({ screen: Str(128) }, closed)),
            },
            closed,
          ),
        },
        closed,
      ),
    },
    closed,
  ),
  Type.Object(
    {
      type: Type.Literal('location_request_message'),
      body: Type.Object({ text: Str(1_024) }, closed),
      action: Type.Object({ name: Type.Literal('send_location') }, closed),
    },
    closed,
  ),
]);
export type InteractiveContentV1 = Static<typeof InteractiveContentV1>;

/** The media message types, outbound and inbound alike. */
const MediaKind = Type.Union([
  Type.Literal('image'),
  Type.Literal('video'),
  Type.Literal('audio'),
  Type.Literal('document'),
  Type.Literal('sticker'),
]);

export const SendContent = Type.Union([
  Type.Object(
    {
      type: Type.Literal('text'),
      text: Type.Object({ body: Str(4_096), previewUrl: Opt(Type.Boolean()) }, closed),
    },
    closed,
  ),
  Type.Object(
    {
      type: Type.Literal('template'),
      template: Type.Object(
        {
          name: Type.String({ pattern: '^[a-z0-9_]{1,512}$', maxLength: 512 }),
          language: Type.String({ minLength: 2, maxLength: 15 }),
          components: Opt(Type.Array(TemplateSendComponentV1, { maxItems: 20 })),
        },
        closed,
      ),
    },
    closed,
  ),
  Type.Object(
    {
      type: MediaKind,
      media: Type.Object(
        {
          id: Opt(Str(128)),
          link: Opt(Url),
          caption: Opt(Type.String({ maxLength: 1_024 })),
          filename: Opt(Type.String({ maxLength: 240 })),
        },
        closed,
      ),
    },
    closed,
  ),
  Type.Object({ type: Type.Literal('interactive'), interactive: InteractiveContentV1 }, closed),
  Type.Object(
    {
      type: Type.Literal('reaction'),
      /** An empty `emoji` removes an earlier reaction, as Meta does (§2.8). */
      reaction: Type.Object({ wamid: Wamid, emoji: Type.String({ maxLength: 16 }) }, closed),
    },
    closed,
  ),
  Type.Object(
    {
      type: Type.Literal('location'),
      location: Type.Object(
        {
          latitude: Latitude,
          longitude: Longitude,
          name: Opt(Type.String({ maxLength: 1_000 })),
          address: Opt(Type.String({ maxLength: 1_000 })),
        },
        closed,
      ),
    },
    closed,
  ),
]);
export type SendContent = Static<typeof SendContent>;

/**
 * The BullMQ priority of a `message.send.v1` job (1 is served first), set by whoever enqueues
 * it and read by message-sender's pacer, which reserves a share of each number for
 * everything but marketing. Authentication codes expire in minutes and utility messages and
 * replies answer something the customer waits for, so a campaign queued ahead of them must
 * not delay them. Compliance's opt-out confirmations get none (0), which BullMQ serves
 * before any prioritised job.
 */
export function sendPriorityOf(p: { category: MessageCategory; purpose?: 'consent_confirmation' }): number {
  if (p.purpose === 'consent_confirmation') return 0;
  return SEND_PRIORITY[p.category];
}
const SEND_PRIORITY: Record<MessageCategory, number> = {
  authentication: 1,
  utility: 2,
  service: 2,
  marketing: 3,
};

/** A command to call Graph once for one stored message. Carries no secret. */
export const MessageSendV1 = Type.Object(
  {
    workspaceId: Id('owning workspace'),
    messageId: Id('wapi message id; the send ledger key'),
    phoneNumberId: Id('Meta phone-number-id to send from'),
    to: WaId,
    category: MessageCategory,
    content: SendContent,
    replyToWamid: Opt(Wamid),
    /**
     * `consent_confirmation`: compliance's reply confirming an opt-out or opt-in the customer
     * just sent. The sender must not hold it back for suppression (it answers that very
     * opt-out, inside the window the customer's message opened); every other send is checked.
     */
    purpose: Opt(Type.Literal('consent_confirmation')),
    acceptedAt: IsoTime,
  },
  closed,
);
export type MessageSendV1 = Static<typeof MessageSendV1>;

export const MessageStatus = Type.Union([
  Type.Literal('sent'),
  Type.Literal('delivered'),
  Type.Literal('read'),
  Type.Literal('failed'),
]);
export type MessageStatus = Static<typeof MessageStatus>;

/** A status change of an outbound message, from the sender or from a Meta status webhook. */
export const MessageEventV1 = Type.Object(
  {
    workspaceId: Id('owning workspace'),
    messageId: Opt(Id('wapi message id, when known')),
    wamid: Opt(Wamid),
    recipient: WaId,
    status: MessageStatus,
    occurredAt: IsoTime,
    source: Type.Union([Type.Literal('sender'), Type.Literal('webhook')]),
    error: Opt(
      Type.Object(
        {
          /** Meta's error code; 0 when wapi refused the message itself (then see `wapiCode`). */
          code: Type.Integer(),
          title: Str(512),
          classification: Opt(Str(64)),
          /** wapi's stable error code (`CONTACT_OPTED_OUT`, ...) when wapi refused the send. */
          wapiCode: Opt(Type.String({ pattern: '^[A-Z][A-Z0-9_]{1,63}$', maxLength: 64 })),
        },
        closed,
      ),
    ),
    /** Meta's pricing block of a status webhook (§3.5): what the message was billed as. */
    pricing: Opt(
      Type.Object(
        {
          billable: Opt(Type.Boolean()),
          category: Opt(Str(64)),
          pricingModel: Opt(Str(64)),
          type: Opt(Str(64)),
        },
        closed,
      ),
    ),
  },
  closed,
);
export type MessageEventV1 = Static<typeof MessageEventV1>;

// ---------------------------------------------------------------------------------------
// Inbound content (message.inbound.v1): the Meta message object (§3.4) projected onto
// closed shapes. webhook-ingest keeps the raw webhook in its journal (`journalId`); the job
// carries only these known fields, so an unknown field Meta adds tomorrow cannot ride
// along (project, then check).

const InboundMedia = Type.Object(
  {
    id: Str(128),
    mime_type: Opt(Str(128)),
    sha256: Opt(Str(128)),
    caption: Opt(Type.String({ maxLength: 1_024 })),
    filename: Opt(Str(240)),
    voice: Opt(Type.Boolean()),
    animated: Opt(Type.Boolean()),
  },
  closed,
);
const Labelled = <T extends TSchema>(name: string, value: T) =>
  Type.Array(Type.Object({ [name]: value, type: Opt(Str(32)) }, closed), { maxItems: 20 });
const InboundContact = Type.Object(
  {
    name: Type.Object(
      {
        formatted_name: Str(512),
        first_name: Opt(Str(256)),
        last_name: Opt(Str(256)),
        middle_name: Opt(Str(256)),
        suffix: Opt(Str(64)),
        prefix: Opt(Str(64)),
      },
      closed,
    ),
    phones: Opt(
      Type.Array(Type.Object({ phone: Opt(Str(64)), wa_id: Opt(Str(32)), type: Opt(Str(32)) }, closed), {
        maxItems: 20,
      }),
    ),
    emails: Opt(Labelled('email', Str(320))),
    urls: Opt(Labelled('url', Str(2_000))),
    addresses: Opt(
      Type.Array(
        Type.Object(
          {
            street: Opt(Str(512)),
            city: Opt(Str(128)),
            state: Opt(Str(128)),
            zip: Opt(Str(32)),
            country: Opt(Str(128)),
            country_code: Opt(Str(8)),
            type: Opt(Str(32)),
          },
          closed,
        ),
        { maxItems: 20 },
      ),
    ),
    org: Opt(
      Type.Object({ company: Opt(Str(256)), department: Opt(Str(256)), title: Opt(Str(256)) }, closed),
    ),
    birthday: Opt(Str(32)),
  },
  closed,
);

/** What the customer sent, by Meta message `type` (§3.4). */
export const InboundContentV1 = Type.Union([
  Type.Object({ type: Type.Literal('text'), text: Type.Object({ body: Str(4_096) }, closed) }, closed),
  Type.Object(
    {
      type: MediaKind,
      media: InboundMedia,
    },
    closed,
  ),
  Type.Object(
    {
      type: Type.Literal('location'),
      location: Type.Object(
        {
          latitude: Latitude,
          longitude: Longitude,
          name: Opt(Str(256)),
          address: Opt(Str(512)),
          url: Opt(Str(2_000)),
        },
        closed,
      ),
    },
    closed,
  ),
  Type.Object(
    { type: Type.Literal('contacts'), contacts: Type.Array(InboundContact, { minItems: 1, maxItems: 20 }) },
    closed,
  ),
  Type.Object(
    {
      type: Type.Literal('button'),
      button: Type.Object({ payload: Type.String({ maxLength: 1_000 }), text: Str(256) }, closed),
    },
    closed,
  ),
  Type.Object(
    {
      type: Type.Literal('interactive'),
      interactive: Type.Union([
        Type.Object(
          {
            type: Type.Literal('button_reply'),
            button_reply: Type.Object({ id: Str(256), title: Str(20) }, closed),
          },
          closed,
        ),
        Type.Object(
          {
            type: Type.Literal('list_reply'),
            list_reply: Type.Object({ id: Str(200), title: Str(24), description: Opt(Str(72)) }, closed),
          },
          closed,
        ),
        Type.Object(
          {
            type: Type.Literal('nfm_reply'),
            nfm_reply: Type.Object(
              {
                name: Opt(Str(64)),
                body: Opt(Str(1_024)),
                response_json: Type.String({ maxLength: 16_384, description: 'the Flow response, as sent' }),
              },
              closed,
            ),
          },
          closed,
        ),
      ]),
    },
    closed,
  ),
  Type.Object(
    {
      type: Type.Literal('reaction'),
      // `emoji` is absent when the customer removed their reaction (§3.4).
      reaction: Type.Object({ message_id: Wamid, emoji: Opt(Str(32)) }, closed),
    },
    closed,
  ),
  Type.Object(
    {
      type: Type.Literal('order'),
      order: Type.Object(
        {
          catalog_id: Str(128),
          text: Opt(Type.String({ maxLength: 4_096 })),
          product_items: Type.Array(
            Type.Object(
              {
                product_retailer_id: Str(128),
                quantity: Type.Integer({ minimum: 0 }),
                item_price: Type.Number(),
                currency: Type.String({ pattern: '^[A-Z]{3}$', maxLength: 3 }),
              },
              closed,
            ),
            { maxItems: 100 },
          ),
        },
        closed,
      ),
    },
    closed,
  ),
  Type.Object(
    {
      type: Type.Literal('system'),
      system: Type.Object({ type: Str(64), body: Opt(Str(1_024)), wa_id: Opt(Str(32)) }, closed),
    },
    closed,
  ),
  Type.Object(
    {
      type: Type.Literal('unsupported'),
      unsupported: Type.Object({ type: Opt(Str(64)) }, closed),
    },
    closed,
  ),
]);
export type InboundContentV1 = Static<typeof InboundContentV1>;

/** `context` of an inbound message: a quoted reply, a forward, or a product enquiry (§3.4). */
const InboundContext = Type.Object(
  {
    from: Opt(Str(32)),
    id: Opt(Wamid),
    forwarded: Opt(Type.Boolean()),
    frequently_forwarded: Opt(Type.Boolean()),
    referred_product: Opt(Type.Object({ catalog_id: Str(128), product_retailer_id: Str(128) }, closed)),
  },
  closed,
);

/** `referral` of a Click-to-WhatsApp ad message (§3.4). */
const InboundReferral = Type.Object(
  {
    source_url: Opt(Str(2_000)),
    source_id: Opt(Str(128)),
    source_type: Opt(Str(32)),
    body: Opt(Str(4_096)),
    headline: Opt(Str(1_024)),
    media_type: Opt(Str(32)),
    image_url: Opt(Str(2_000)),
    video_url: Opt(Str(2_000)),
    thumbnail_url: Opt(Str(2_000)),
    ctwa_clid: Opt(Str(512)),
    welcome_message: Opt(Type.Object({ text: Str(4_096) }, closed)),
  },
  closed,
);

/** One inbound customer message, already routed to its workspace. */
export const MessageInboundV1 = Type.Object(
  {
    workspaceId: Id('owning workspace'),
    phoneNumberId: Id('receiving business number'),
    from: WaId,
    wamid: Wamid,
    receivedAt: IsoTime,
    journalId: Id('webhook journal entry it came from (holds the raw webhook)'),
    content: InboundContentV1,
    context: Opt(InboundContext),
    referral: Opt(InboundReferral),
  },
  closed,
);
export type MessageInboundV1 = Static<typeof MessageInboundV1>;

/**
 * The longest inbound text (UTF-16 code units, as `String.length` counts) that can be a
 * consent keyword: compliance never matches a longer one (a keyword is a few words, and its
 * normalised form must fit 64), so producers send no `inbound_text` signal for longer texts.
 */
export const CONSENT_TEXT_MAX_LENGTH = 256;

/** An opt-out or opt-in observed anywhere (keyword, button, user_preferences, error 131050, API). */
export const ConsentSignalV1 = Type.Object(
  {
    workspaceId: Id('owning workspace'),
    contact: WaId,
    /**
     * `inbound_text`: a customer's short text message (at most `CONSENT_TEXT_MAX_LENGTH`
     * characters; longer ones are never keywords and are not sent) that compliance classifies with its
     * keyword rules (they live there, with the workspace's own words and the contact's
     * state, which YES needs); `evidence.text` holds it and `scope` is ignored.
     */
    signal: Type.Union([Type.Literal('opt_out'), Type.Literal('opt_in'), Type.Literal('inbound_text')]),
    scope: Type.Union([Type.Literal('all'), Type.Literal('marketing')]),
    /** The business number the customer wrote to: the confirmation reply is sent from it. */
    phoneNumberId: Opt(Id('receiving business number')),
    source: Type.Union([
      Type.Literal('keyword'),
      Type.Literal('stop_promotions_button'),
      Type.Literal('user_preferences'),
      Type.Literal('error_131050'),
      Type.Literal('api'),
    ]),
    evidence: Type.Object({ wamid: Opt(Wamid), text: Opt(Type.String({ maxLength: 1_024 })) }, closed),
    observedAt: IsoTime,
  },
  closed,
);
export type ConsentSignalV1 = Static<typeof ConsentSignalV1>;

/**
 * Extra audit facts: a bounded map of short names to scalars. Values are scalars only,
 * so no nested object can smuggle a credential-shaped structure in; never put a secret
 * in a value (audit entries are kept forever).
 */
export const AuditData = Type.Record(
  Type.String({ pattern: '^[A-Za-z][A-Za-z0-9_.]{0,63}$' }),
  Type.Union([Type.String({ maxLength: 512 }), Type.Number(), Type.Boolean(), Type.Null()]),
  { additionalProperties: false, maxProperties: 32 },
);
export type AuditData = Static<typeof AuditData>;

/** One audit entry to append to a workspace's hash chain. */
export const AuditV1 = Type.Object(
  {
    workspaceId: Id('owning workspace'),
    actor: Type.Object({ type: Str(32), id: Str(128) }, closed),
    action: Str(128),
    target: Type.Object({ type: Str(32), id: Str(128) }, closed),
    at: IsoTime,
    /** The request that caused it, and who sent it, where known. */
    requestId: Opt(Str(128)),
    ip: Opt(Str(64)),
    userAgent: Opt(Type.String({ maxLength: 512 })),
    outcome: Opt(Type.Union([Type.Literal('success'), Type.Literal('failure'), Type.Literal('denied')])),
    /** The changed fields' values before and after, where the action changes something. */
    before: Opt(AuditData),
    after: Opt(AuditData),
    data: Opt(AuditData),
  },
  closed,
);
export type AuditV1 = Static<typeof AuditV1>;

// ---------------------------------------------------------------------------------------
// Account updates (account.update.v1): the management webhooks (§3.7, §7.4, §5.3) that
// change what the gateway records about a workspace's templates, numbers and account.
// webhook-ingest projects each change onto one of these; the gateway applies it.

const TemplateRef = {
  templateId: Str(64),
  name: Str(512),
  language: Str(15),
};
const QualityScore = Type.Union([
  Type.Literal('GREEN'),
  Type.Literal('YELLOW'),
  Type.Literal('RED'),
  Type.Literal('UNKNOWN'),
]);

export const AccountUpdateV1 = Type.Object(
  {
    workspaceId: Id('owning workspace'),
    wabaId: Id('WhatsApp Business Account id the webhook was for'),
    /** webhook-ingest's journal id: the raw webhook stays there for audit. */
    journalId: Opt(Id('journal entry of the webhook')),
    occurredAt: IsoTime,
    change: Type.Union([
      Type.Object(
        {
          kind: Type.Literal('template_status'),
          ...TemplateRef,
          /** Meta's `event`: APPROVED, REJECTED, PAUSED, DISABLED, ... */
          status: Type.String({ pattern: '^[A-Z_]{1,40}$', maxLength: 40 }),
          reason: Opt(Str(200)),
          category: Opt(Str(40)),
          /** `other_info.title`: FIRST_PAUSE, SECOND_PAUSE, UNPAUSE, ... */
          detail: Opt(Str(200)),
        },
        closed,
      ),
      Type.Object(
        {
          kind: Type.Literal('template_quality'),
          ...TemplateRef,
          previousQuality: Opt(QualityScore),
          quality: QualityScore,
        },
        closed,
      ),
      Type.Object(
        {
          kind: Type.Literal('phone_quality'),
          /** Absent when Meta's webhook names only the display number. */
          phoneNumberId: Opt(Id('Meta phone-number-id')),
          displayPhoneNumber: Str(32),
          /** Meta's `event`: ONBOARDING, THROUGHPUT_UPGRADE, (older) UPGRADE, DOWNGRADE, FLAGGED, UNFLAGGED. */
          event: Type.String({ pattern: '^[A-Z_]{1,40}$', maxLength: 40 }),
          /** TIER_250, TIER_2K, ..., TIER_UNLIMITED. */
          currentLimit: Opt(Str(40)),
          previousLimit: Opt(Str(40)),
          maxDailyConversationsPerBusiness: Opt(Str(40)),
        },
        closed,
      ),
      Type.Object(
        {
          kind: Type.Literal('account'),
          /** Meta's `event`: DISABLED_UPDATE, ACCOUNT_VIOLATION, PARTNER_ADDED, ... */
          event: Type.String({ pattern: '^[A-Z_]{1,64}$', maxLength: 64 }),
          banState: Opt(Str(40)),
          violationType: Opt(Str(120)),
          /**
           * `waba_info.owner_business_id` (PARTNER_* events): the business portfolio owning
           * the WABA, whose messaging limit its numbers share (§5.3).
           */
          businessId: Opt(
            Type.String({
              pattern: '^[0-9]{1,32}$',
              maxLength: 32,
              description: 'Meta business portfolio id',
            }),
          ),
        },
        closed,
      ),
      Type.Object(
        {
          kind: Type.Literal('capability'),
          maxDailyConversationsPerBusiness: Opt(Str(40)),
          maxPhoneNumbersPerBusiness: Opt(Type.Integer({ minimum: 0 })),
        },
        closed,
      ),
    ]),
  },
  closed,
);
export type AccountUpdateV1 = Static<typeof AccountUpdateV1>;

/** Default BullMQ job options, as plain data (contracts does not depend on bullmq). */
export interface JobDefaults {
  attempts: number;
  backoff: { type: 'exponential' | 'fixed'; delay: number };
  removeOnComplete: { age: number; count: number };
  /** Failed jobs are kept: they are the dead-letter state that can be listed and replayed. */
  removeOnFail: false;
}

export interface QueueDefinition<S extends TSchema = TSchema> {
  readonly payload: S;
  readonly producers: readonly string[];
  readonly consumer: string;
  readonly defaults: JobDefaults;
}

const keepCompleted = { age: 24 * 3600, count: 10_000 };
/** Events and signals: applied idempotently by their consumer, so retried briskly. */
const EVENT_DEFAULTS: JobDefaults = {
  attempts: 10,
  backoff: { type: 'exponential', delay: 500 },
  removeOnComplete: keepCompleted,
  removeOnFail: false,
};

export const QUEUES = {
  'message.send.v1': {
    payload: MessageSendV1,
    producers: ['gateway', 'compliance'],
    consumer: 'message-sender',
    defaults: {
      attempts: 8,
      backoff: { type: 'exponential', delay: 1_000 },
      removeOnComplete: keepCompleted,
      removeOnFail: false,
    },
  },
  'message.events.v1': {
    payload: MessageEventV1,
    producers: ['message-sender', 'webhook-ingest'],
    consumer: 'gateway',
    defaults: EVENT_DEFAULTS,
  },
  'message.inbound.v1': {
    payload: MessageInboundV1,
    producers: ['webhook-ingest'],
    consumer: 'gateway',
    defaults: EVENT_DEFAULTS,
  },
  'consent.signal.v1': {
    payload: ConsentSignalV1,
    producers: ['webhook-ingest', 'gateway'],
    consumer: 'compliance',
    defaults: EVENT_DEFAULTS,
  },
  'account.update.v1': {
    payload: AccountUpdateV1,
    producers: ['webhook-ingest'],
    consumer: 'gateway',
    defaults: EVENT_DEFAULTS,
  },
  'audit.v1': {
    payload: AuditV1,
    producers: ['gateway', 'webhook-ingest', 'message-sender', 'compliance', 'vault'],
    consumer: 'compliance',
    defaults: {
      attempts: 20,
      backoff: { type: 'exponential', delay: 500 },
      removeOnComplete: keepCompleted,
      removeOnFail: false,
    },
  },
} as const satisfies Record<string, QueueDefinition>;

export type QueueName = keyof typeof QUEUES;
export type QueuePayload<N extends QueueName> = Static<(typeof QUEUES)[N]['payload']>;
export const QUEUE_NAMES = Object.keys(QUEUES) as QueueName[];

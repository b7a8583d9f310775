import { type Static, Type } from '@sinclair/typebox';
import { PermissionSchema, RoleSchema } from './permissions';
import { MessageCategory, SendContent } from './queues';

/**
 * The gateway's public API (`/api/v1`): request and response bodies. Every object is
 * closed; OpenAPI (`docs/openapi.json`) is generated from these.
 */

const closed = { additionalProperties: false } as const;
const IsoTime = Type.String({ format: 'date-time' });
/** Ids the gateway mints: a type prefix and random base62 (`usr_…`, `ws_…`, `key_…`). */
const EntityId = (prefix: string, description: string) =>
  Type.String({ pattern: `^${prefix}_[A-Za-z0-9]{8,40}$`, description });

export const UserIdParam = EntityId('usr', 'user id');
export const WorkspaceIdParam = EntityId('ws', 'workspace id');
export const ApiKeyIdParam = Type.String({ pattern: '^[A-Za-z0-9]{12}$', description: 'API key id' });

const Email = Type.String({ pattern: '^[^\\s@]+@[^\\s@]+\\.[^\\s@]+$', minLength: 3, maxLength: 254 });
/** OWASP: at least 8 characters when MFA is absent, and allow long passphrases. */
const Password = Type.String({ minLength: 12, maxLength: 256, description: '12 to 256 characters' });
const Name = Type.String({ minLength: 1, maxLength: 120 });

export const Plan = Type.Union([Type.Literal('free'), Type.Literal('pro')]);
export type Plan = Static<typeof Plan>;

export const SignupRequest = Type.Object(
  { email: Email, password: Password, name: Name, workspaceName: Name },
  closed,
);
export type SignupRequest = Static<typeof SignupRequest>;

export const LoginRequest = Type.Object(
  {
    email: Email,
    password: Type.String({ minLength: 1, maxLength: 256 }),
    /** The workspace the tokens act in; default the user's first workspace. */
    workspaceId: Type.Optional(WorkspaceIdParam),
  },
  closed,
);
export type LoginRequest = Static<typeof LoginRequest>;

export const RefreshRequest = Type.Object(
  { refreshToken: Type.String({ minLength: 1, maxLength: 256 }) },
  closed,
);
export type RefreshRequest = Static<typeof RefreshRequest>;

/** An access token (JWT, 15 minutes) and the opaque refresh token that renews it (7 days, single use). */
export const TokenResponse = Type.Object(
  {
    accessToken: Type.String(),
    tokenType: Type.Literal('Bearer'),
    expiresIn: Type.Integer({ description: 'seconds until the access token expires' }),
    refreshToken: Type.String(),
    refreshExpiresAt: IsoTime,
    workspaceId: WorkspaceIdParam,
  },
  closed,
);
export type TokenResponse = Static<typeof TokenResponse>;

export const Workspace = Type.Object(
  {
    id: WorkspaceIdParam,
    name: Type.String(),
    plan: Plan,
    /** Message sends per minute; the plan's default unless set for this workspace. */
    sendsPerMinute: Type.Integer(),
    createdAt: IsoTime,
  },
  closed,
);
export type Workspace = Static<typeof Workspace>;

export const UpdateWorkspaceRequest = Type.Object(
  {
    name: Type.Optional(Name),
    plan: Type.Optional(Plan),
    /** Overrides the plan's send limit for this workspace; null returns to the plan's. */
    sendsPerMinute: Type.Optional(Type.Union([Type.Integer({ minimum: 1, maximum: 100_000 }), Type.Null()])),
  },
  { ...closed, minProperties: 1 },
);
export type UpdateWorkspaceRequest = Static<typeof UpdateWorkspaceRequest>;

export const SignupResponse = Type.Object(
  {
    user: Type.Object({ id: UserIdParam, email: Type.String(), name: Type.String() }, closed),
    workspace: Workspace,
    tokens: TokenResponse,
  },
  closed,
);
export type SignupResponse = Static<typeof SignupResponse>;

export const MeResponse = Type.Object(
  {
    principal: Type.Object(
      {
        type: Type.Union([Type.Literal('user'), Type.Literal('api_key')]),
        id: Type.String(),
      },
      closed,
    ),
    user: Type.Optional(Type.Object({ id: UserIdParam, email: Type.String(), name: Type.String() }, closed)),
    workspaceId: WorkspaceIdParam,
    role: RoleSchema,
    permissions: Type.Array(PermissionSchema),
    /** Every workspace the user belongs to (empty for an API key). */
    workspaces: Type.Array(Type.Object({ id: WorkspaceIdParam, role: RoleSchema }, closed)),
  },
  closed,
);
export type MeResponse = Static<typeof MeResponse>;

export const Member = Type.Object(
  { userId: UserIdParam, email: Type.String(), name: Type.String(), role: RoleSchema, addedAt: IsoTime },
  closed,
);
export type Member = Static<typeof Member>;

export const MemberList = Type.Object({ members: Type.Array(Member) }, closed);
export type MemberList = Static<typeof MemberList>;

/** Adds an existing user (by e-mail) to the token's workspace. */
export const AddMemberRequest = Type.Object({ email: Email, role: RoleSchema }, closed);
export type AddMemberRequest = Static<typeof AddMemberRequest>;

export const UpdateMemberRequest = Type.Object({ role: RoleSchema }, closed);
export type UpdateMemberRequest = Static<typeof UpdateMemberRequest>;

export const ApiKey = Type.Object(
  {
    id: ApiKeyIdParam,
    name: Type.String(),
    role: RoleSchema,
    /** The first characters of the key, to recognise it in a list (never the key). */
    hint: Type.String(),
    createdAt: IsoTime,
    lastUsedAt: Type.Union([IsoTime, Type.Null()]),
    revokedAt: Type.Union([IsoTime, Type.Null()]),
  },
  closed,
);
export type ApiKey = Static<typeof ApiKey>;

export const CreateApiKeyRequest = Type.Object({ name: Name, role: RoleSchema }, closed);
export type CreateApiKeyRequest = Static<typeof CreateApiKeyRequest>;

/** The only answer that ever holds the key itself: store it now, it cannot be shown again. */
export const CreatedApiKey = Type.Object({ apiKey: ApiKey, key: Type.String() }, closed);
export type CreatedApiKey = Static<typeof CreatedApiKey>;

export const ApiKeyList = Type.Object({ apiKeys: Type.Array(ApiKey) }, closed);
export type ApiKeyList = Static<typeof ApiKeyList>;

/** `POST /api/v1/messages` (the messaging issue fills in the content types). */
// ---------------------------------------------------------------------------------------
// Phone numbers, contacts and messages (issue #11).

/** Meta's numeric ids (phone number id, WABA id). */
const MetaId = (description: string) => Type.String({ pattern: '^[0-9]{1,32}$', description });
export const PhoneNumberIdParam = MetaId('Meta phone number id');
export const WabaIdParam = MetaId('WhatsApp Business Account id');
export const ContactIdParam = Type.String({ pattern: '^ct_[A-Za-z0-9_-]{22}$', description: 'contact id' });
export const MessageIdParam = Type.String({ pattern: '^msg_[A-Za-z0-9_-]{22}$', description: 'message id' });

/** `POST /api/v1/phone-numbers`: connect a number manually; the token goes to vault and is never returned. */
export const ConnectPhoneNumberRequest = Type.Object(
  {
    phoneNumberId: PhoneNumberIdParam,
    wabaId: MetaId('WhatsApp Business Account id'),
    displayPhoneNumber: Type.String({ minLength: 3, maxLength: 32, description: 'as Meta shows it' }),
    verifiedName: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
    accessToken: Type.String({
      minLength: 20,
      maxLength: 2_048,
      description: 'a Meta system-user access token; stored in vault, never returned',
    }),
  },
  closed,
);
export type ConnectPhoneNumberRequest = Static<typeof ConnectPhoneNumberRequest>;

export const PhoneNumber = Type.Object(
  {
    phoneNumberId: PhoneNumberIdParam,
    wabaId: Type.String(),
    displayPhoneNumber: Type.String(),
    verifiedName: Type.Union([Type.String(), Type.Null()]),
    status: Type.Union([Type.Literal('connected'), Type.Literal('disconnected')]),
    qualityRating: Type.Union([Type.String(), Type.Null()], {
      description: 'GREEN, YELLOW, RED; null until Meta reports it',
    }),
    messagingLimitTier: Type.Union([Type.String(), Type.Null()], {
      description: 'e.g. TIER_1K; null until known',
    }),
    throughputMps: Type.Integer({
      description: 'messages per second Meta allows this number (80 by default)',
    }),
    businessId: Type.Union([Type.String({ maxLength: 32 }), Type.Null()], {
      description:
        "the Meta business portfolio owning the WABA, whose messaging limit its numbers share; null until known (Embedded Signup's event or an account_update webhook names it)",
    }),
    connectedAt: IsoTime,
  },
  closed,
);
export type PhoneNumber = Static<typeof PhoneNumber>;
export const ApiPhoneNumberList = Type.Object({ phoneNumbers: Type.Array(PhoneNumber) }, closed);

const Tag = Type.String({ minLength: 1, maxLength: 64 });
const Attributes = Type.Record(
  Type.String({ pattern: '^[A-Za-z0-9_.-]{1,64}$' }),
  Type.String({ maxLength: 1_024 }),
  {
    maxProperties: 50,
    description: 'custom attributes: up to 50 string values',
  },
);
const PhoneInput = Type.String({
  minLength: 3,
  maxLength: 32,
  description: 'a phone number in international form (+14155550123 or 14155550123); normalised to E.164',
});

export const CreateContactRequest = Type.Object(
  {
    phone: PhoneInput,
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
    tags: Type.Optional(Type.Array(Tag, { maxItems: 50 })),
    attributes: Type.Optional(Attributes),
  },
  closed,
);
export type CreateContactRequest = Static<typeof CreateContactRequest>;

/** The phone number is the contact's identity and cannot change: create another contact instead. */
export const UpdateContactRequest = Type.Object(
  {
    name: Type.Optional(Type.Union([Type.String({ minLength: 1, maxLength: 256 }), Type.Null()])),
    tags: Type.Optional(Type.Array(Tag, { maxItems: 50 })),
    attributes: Type.Optional(Attributes),
  },
  closed,
);
export type UpdateContactRequest = Static<typeof UpdateContactRequest>;

export const Contact = Type.Object(
  {
    id: ContactIdParam,
    phone: Type.String({ description: 'E.164' }),
    waId: Type.String({ description: 'WhatsApp user id: the E.164 digits without +' }),
    name: Type.Union([Type.String(), Type.Null()]),
    tags: Type.Array(Type.String()),
    attributes: Type.Record(Type.String(), Type.String()),
    assigneeId: Type.Union([Type.String(), Type.Null()], {
      description: 'the member (user id) the conversation is assigned to, or null',
    }),
    createdAt: IsoTime,
    updatedAt: IsoTime,
  },
  closed,
);
export type Contact = Static<typeof Contact>;

export const ContactListQuery = Type.Object(
  {
    phone: Type.Optional(PhoneInput),
    tag: Type.Optional(Tag),
    q: Type.Optional(
      Type.String({ minLength: 1, maxLength: 120, description: 'name prefix, case-insensitive' }),
    ),
    cursor: Type.Optional(Type.String({ maxLength: 64, description: '`nextCursor` of the previous page' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })),
  },
  closed,
);
export const ContactList = Type.Object(
  { contacts: Type.Array(Contact), nextCursor: Type.Union([Type.String(), Type.Null()]) },
  closed,
);

/** `POST /api/v1/contacts/:contactId/consent`: a manual opt-out or opt-in, recorded by compliance. */
export const ApiConsentChangeRequest = Type.Object(
  {
    signal: Type.Union([Type.Literal('opt_out'), Type.Literal('opt_in')]),
    scope: Type.Union([Type.Literal('all'), Type.Literal('marketing')], {
      description: 'all messages, or marketing templates only',
    }),
    note: Type.Optional(
      Type.String({ maxLength: 1_024, description: 'why, as recorded (e.g. "asked by phone")' }),
    ),
  },
  closed,
);
export type ApiConsentChangeRequest = Static<typeof ApiConsentChangeRequest>;

/**
 * `POST /api/v1/messages`: one message, addressed by `contactId` or `to` (a phone number),
 * from `phoneNumberId` (default: the workspace's number when it has exactly one). `content`
 * has Meta's shape (`{ type: 'text', text: { body } }`, template, media, interactive).
 */
export const ApiSendMessageRequest = Type.Object(
  {
    contactId: Type.Optional(ContactIdParam),
    to: Type.Optional(PhoneInput),
    phoneNumberId: Type.Optional(PhoneNumberIdParam),
    content: SendContent,
    replyToWamid: Type.Optional(
      Type.String({ minLength: 1, maxLength: 256, description: 'quote this message' }),
    ),
    category: Type.Optional(MessageCategory),
  },
  closed,
);
export type ApiSendMessageRequest = Static<typeof ApiSendMessageRequest>;

/** `POST /api/v1/messages/send`: the compatibility form, a text to a contact. */
export const ApiSendTextRequest = Type.Object(
  { contactId: ContactIdParam, body: Type.String({ minLength: 1, maxLength: 4_096 }) },
  closed,
);

/** `POST /api/v1/messages/batch`: up to 1,000 sends, each checked on its own, written together. */
export const ApiSendBatchRequest = Type.Object(
  { messages: Type.Array(ApiSendMessageRequest, { minItems: 1, maxItems: 1_000 }) },
  closed,
);
export const ApiSendBatchResponse = Type.Object(
  {
    accepted: Type.Integer(),
    results: Type.Array(
      Type.Union([
        Type.Object({ index: Type.Integer(), id: Type.String(), status: Type.Literal('accepted') }, closed),
        Type.Object(
          {
            index: Type.Integer(),
            error: Type.Object({ code: Type.String(), message: Type.String() }, closed),
          },
          closed,
        ),
      ]),
      { description: 'one per message, in request order: its id, or why it was refused' },
    ),
  },
  closed,
);

export const MessageAccepted = Type.Object({ id: MessageIdParam, status: Type.Literal('accepted') }, closed);

const MessageStatusName = Type.Union(
  ['accepted', 'sent', 'delivered', 'read', 'failed', 'received'].map((s) => Type.Literal(s)),
);
export const Message = Type.Object(
  {
    id: Type.String(),
    direction: Type.Union([Type.Literal('outbound'), Type.Literal('inbound')]),
    phoneNumberId: Type.String(),
    waId: Type.String(),
    contactId: Type.String(),
    wamid: Type.Union([Type.String(), Type.Null()]),
    status: MessageStatusName,
    category: Type.String(),
    contentType: Type.String(),
    history: Type.Array(Type.Object({ status: Type.String(), at: IsoTime }, closed)),
    error: Type.Union([
      Type.Object(
        {
          code: Type.Integer({ description: "Meta's error code; 0 when wapi refused the send itself" }),
          title: Type.String(),
          wapiCode: Type.Optional(
            Type.String({ description: "wapi's error code when wapi refused the send" }),
          ),
        },
        closed,
      ),
      Type.Null(),
    ]),
    pricing: Type.Optional(
      Type.Object(
        {
          billable: Type.Optional(Type.Boolean()),
          category: Type.Optional(Type.String()),
          pricingModel: Type.Optional(Type.String()),
          type: Type.Optional(Type.String()),
        },
        { ...closed, description: "Meta's pricing of the message, from its status webhooks" },
      ),
    ),
    createdAt: IsoTime,
  },
  closed,
);
export type Message = Static<typeof Message>;
export const MessageListQuery = Type.Object({ wamid: Type.String({ minLength: 1, maxLength: 256 }) }, closed);
export const MessageList = Type.Object({ messages: Type.Array(Message) }, closed);
export const Timeline = Type.Object(
  {
    messages: Type.Array(Message),
    windowExpiresAt: Type.Union([IsoTime, Type.Null()], {
      description: 'when the customer-service window closes; null if closed',
    }),
  },
  closed,
);

// --- templates -------------------------------------------------------------------------

const TemplateName = Type.String({
  pattern: '^[a-z0-9_]{1,512}$',
  maxLength: 512,
  description: "Meta's template name",
});
const Language = Type.String({
  pattern: '^[a-z]{2,3}(_[A-Za-z]{2,4})?$',
  maxLength: 15,
  description: 'en_US, pt_BR, ...',
});
/** A component in Meta's shape (§7.3): passed to Meta as given, stored as Meta lists it. */
const Component = Type.Object(
  {
    type: Type.String({ enum: ['HEADER', 'BODY', 'FOOTER', 'BUTTONS'] }),
    format: Type.Optional(Type.String({ maxLength: 20 })),
    text: Type.Optional(Type.String({ maxLength: 1_024 })),
    buttons: Type.Optional(Type.Array(Type.Record(Type.String(), Type.Unknown()), { maxItems: 10 })),
    example: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  },
  { additionalProperties: true },
);

/** `POST /api/v1/templates`. */
export const ApiCreateTemplateRequest = Type.Object(
  {
    name: TemplateName,
    language: Language,
    category: Type.Union([
      Type.Literal('MARKETING'),
      Type.Literal('UTILITY'),
      Type.Literal('AUTHENTICATION'),
    ]),
    parameterFormat: Type.Optional(Type.Union([Type.Literal('positional'), Type.Literal('named')])),
    messageSendTtlSeconds: Type.Optional(Type.Integer({ minimum: -1, maximum: 2_592_000 })),
    components: Type.Array(Component, { minItems: 1, maxItems: 10 }),
    wabaId: Type.Optional(
      Type.String({
        pattern: '^[0-9]{1,32}$',
        description: "the WABA to create it in; default: the workspace's only one",
      }),
    ),
  },
  closed,
);
/** A template as stored and validated against (docs/meta-platform.md §7). */
export const Template = Type.Object(
  {
    name: Type.String(),
    language: Type.String(),
    category: Type.String({ description: "Meta's: MARKETING, UTILITY or AUTHENTICATION" }),
    status: Type.String({ description: 'APPROVED, PENDING, REJECTED, PAUSED, DISABLED, ...' }),
    quality: Type.Union([Type.String(), Type.Null()]),
    reason: Type.Union([Type.String(), Type.Null()]),
    metaId: Type.Union([Type.String(), Type.Null()]),
    wabaId: Type.String(),
    parameterFormat: Type.Union([Type.Literal('positional'), Type.Literal('named')]),
    parameters: Type.Object(
      {
        body: Type.Array(Type.String()),
        header: Type.Union([Type.String(), Type.Null()], {
          description: 'text, image, video, document, location',
        }),
      },
      closed,
    ),
    components: Type.Array(Type.Record(Type.String(), Type.Unknown())),
    createdAt: Type.String({ format: 'date-time' }),
    updatedAt: Type.String({ format: 'date-time' }),
  },
  closed,
);
export type Template = Static<typeof Template>;
export const ApiTemplateList = Type.Object({ templates: Type.Array(Template) }, closed);
export const TemplateListQuery = Type.Object(
  {
    name: Type.Optional(TemplateName),
    language: Type.Optional(Language),
    status: Type.Optional(Type.String({ pattern: '^[A-Z_]{1,40}$' })),
  },
  closed,
);
export const DeleteTemplateQuery = Type.Object(
  { name: TemplateName, language: Type.Optional(Language) },
  closed,
);

export const TemplateSyncResult = Type.Object({ synced: Type.Integer(), removed: Type.Integer() }, closed);

export const NoContent = Type.Null({ description: 'no body' });

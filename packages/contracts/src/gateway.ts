import { type Static, Type } from '@sinclair/typebox';
import { PermissionSchema, RoleSchema } from './permissions';

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
export const ApiSendMessageRequest = Type.Object(
  {
    to: Type.String({ pattern: '^[0-9]{6,15}$', description: 'WhatsApp user id (digits)' }),
    text: Type.String({ minLength: 1, maxLength: 4_096 }),
  },
  closed,
);
export type ApiSendMessageRequest = Static<typeof ApiSendMessageRequest>;

export const NoContent = Type.Null({ description: 'no body' });

import { type Static, Type } from '@sinclair/typebox';
import { MessageCategory } from './queues';

/**
 * compliance's internal HTTP API (callers: gateway, webhook-ingest, message-sender).
 * Every body and answer is closed; ids are bounded like the queue payloads.
 */

const closed = { additionalProperties: false } as const;
const WorkspaceIdParam = Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$', description: 'workspace id' });
const Contact = Type.String({
  pattern: '^[0-9]{6,15}$',
  maxLength: 15,
  description: 'WhatsApp user id (digits)',
});
const IsoTime = Type.String({ format: 'date-time', maxLength: 40 });
/** Audit facts as stored: short names to scalars. */
const ScalarMap = Type.Record(
  Type.String(),
  Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Null()]),
);

export const ConsentScope = Type.Union([Type.Literal('all'), Type.Literal('marketing')]);
export type ConsentScope = Static<typeof ConsentScope>;
export const ConsentState = Type.Union([Type.Literal('opted_out'), Type.Literal('opted_in')]);
export type ConsentState = Static<typeof ConsentState>;
/** Where a consent change came from (the queue's sources plus `import`, over HTTP only). */
export const ConsentSource = Type.Union([
  Type.Literal('keyword'),
  Type.Literal('stop_promotions_button'),
  Type.Literal('user_preferences'),
  Type.Literal('error_131050'),
  Type.Literal('api'),
  Type.Literal('import'),
]);
export type ConsentSource = Static<typeof ConsentSource>;

/** `POST /internal/v1/consent/changes`: a consent change made through the API or an import. */
export const ConsentChangeRequest = Type.Object(
  {
    workspaceId: WorkspaceIdParam,
    contact: Contact,
    signal: Type.Union([Type.Literal('opt_out'), Type.Literal('opt_in')]),
    scope: ConsentScope,
    source: Type.Union([Type.Literal('api'), Type.Literal('import')]),
    /** Who made it (a user or API key id), for the ledger and the audit log. */
    actor: Type.Object(
      {
        type: Type.String({ minLength: 1, maxLength: 32 }),
        id: Type.String({ minLength: 1, maxLength: 128 }),
      },
      closed,
    ),
    /** Why, as recorded (e.g. "customer asked by phone"). */
    note: Type.Optional(Type.String({ maxLength: 1_024 })),
    /** When the customer gave or withdrew consent; default now. */
    observedAt: Type.Optional(IsoTime),
    /** Makes a retried call a no-op: the same key is the same change. */
    idempotencyKey: Type.String({ minLength: 1, maxLength: 128 }),
  },
  closed,
);
export type ConsentChangeRequest = Static<typeof ConsentChangeRequest>;

export const ConsentChangeResponse = Type.Object(
  {
    eventId: Type.String(),
    /** True when the state of at least one scope changed. */
    changed: Type.Boolean(),
    states: Type.Array(Type.Object({ scope: ConsentScope, state: ConsentState }, closed)),
  },
  closed,
);
export type ConsentChangeResponse = Static<typeof ConsentChangeResponse>;

/** One change in a contact's consent history. */
export const ConsentHistoryEntry = Type.Object(
  {
    eventId: Type.String(),
    scope: ConsentScope,
    signal: Type.Union([Type.Literal('opt_out'), Type.Literal('opt_in')]),
    source: ConsentSource,
    effect: Type.Union([Type.Literal('changed'), Type.Literal('unchanged'), Type.Literal('superseded')]),
    evidence: Type.Object(
      {
        wamid: Type.Optional(Type.String()),
        text: Type.Optional(Type.String()),
        actor: Type.Optional(Type.String()),
        note: Type.Optional(Type.String()),
      },
      closed,
    ),
    observedAt: IsoTime,
    recordedAt: IsoTime,
  },
  closed,
);
export type ConsentHistoryEntry = Static<typeof ConsentHistoryEntry>;

/** `GET /internal/v1/consent/:workspaceId/:contact`: current state per scope and the history. */
export const ContactConsentResponse = Type.Object(
  {
    contact: Type.String(),
    states: Type.Array(
      Type.Object(
        { scope: ConsentScope, state: ConsentState, since: IsoTime, source: ConsentSource },
        closed,
      ),
    ),
    history: Type.Array(ConsentHistoryEntry),
  },
  closed,
);
export type ContactConsentResponse = Static<typeof ContactConsentResponse>;

/** `POST /internal/v1/suppression/check`: may these contacts get a message of this category? */
export const SuppressionCheckRequest = Type.Object(
  {
    workspaceId: WorkspaceIdParam,
    contacts: Type.Array(Contact, { minItems: 1, maxItems: 1_000 }),
    category: MessageCategory,
  },
  closed,
);
export type SuppressionCheckRequest = Static<typeof SuppressionCheckRequest>;

export const SuppressionCheckResponse = Type.Object(
  { suppressed: Type.Array(Type.Object({ contact: Type.String(), suppressed: Type.Boolean() }, closed)) },
  closed,
);
export type SuppressionCheckResponse = Static<typeof SuppressionCheckResponse>;

/** `POST /internal/v1/suppression/rebuild`: Redis rebuilt from the ledger. */
export const SuppressionRebuildResponse = Type.Object(
  { contacts: Type.Integer(), workspaces: Type.Integer() },
  closed,
);
export type SuppressionRebuildResponse = Static<typeof SuppressionRebuildResponse>;

/** One audit entry as the API returns it. */
export const AuditEntry = Type.Object(
  {
    seq: Type.Integer({ minimum: 1 }),
    at: IsoTime,
    actor: Type.Object({ type: Type.String(), id: Type.String() }, closed),
    action: Type.String(),
    target: Type.Object({ type: Type.String(), id: Type.String() }, closed),
    requestId: Type.Optional(Type.String()),
    ip: Type.Optional(Type.String()),
    userAgent: Type.Optional(Type.String()),
    outcome: Type.Optional(Type.String()),
    before: Type.Optional(ScalarMap),
    after: Type.Optional(ScalarMap),
    data: Type.Optional(ScalarMap),
    prevHash: Type.String(),
    hash: Type.String(),
  },
  closed,
);
export type AuditEntry = Static<typeof AuditEntry>;

/** `GET /internal/v1/audit/:workspaceId/entries` filters (newest first, cursor = a `seq`). */
export const AuditQuery = Type.Object(
  {
    action: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    actorType: Type.Optional(Type.String({ minLength: 1, maxLength: 32 })),
    actorId: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    targetType: Type.Optional(Type.String({ minLength: 1, maxLength: 32 })),
    targetId: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    from: Type.Optional(IsoTime),
    to: Type.Optional(IsoTime),
    /** `nextCursor` of the previous page. */
    cursor: Type.Optional(Type.String({ pattern: '^[0-9]{1,15}$' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
  },
  closed,
);
export type AuditQuery = Static<typeof AuditQuery>;

export const AuditQueryResponse = Type.Object(
  { entries: Type.Array(AuditEntry), nextCursor: Type.Union([Type.String(), Type.Null()]) },
  closed,
);
export type AuditQueryResponse = Static<typeof AuditQueryResponse>;

/** `POST /internal/v1/audit/:workspaceId/verify`: the chain checked from its anchor. */
export const AuditVerifyResponse = Type.Object(
  {
    valid: Type.Boolean(),
    /** Entries checked. */
    checked: Type.Integer(),
    /** The first sequence number the chain starts from (1, or the anchor after a purge). */
    firstSeq: Type.Integer(),
    lastSeq: Type.Union([Type.Integer(), Type.Null()]),
    /** The first broken link, when not valid. */
    broken: Type.Union([
      Type.Object(
        {
          seq: Type.Integer(),
          reason: Type.Union([
            Type.Literal('missing'),
            Type.Literal('unexpected_seq'),
            Type.Literal('prev_hash_mismatch'),
            Type.Literal('hash_mismatch'),
          ]),
        },
        closed,
      ),
      Type.Null(),
    ]),
  },
  closed,
);
export type AuditVerifyResponse = Static<typeof AuditVerifyResponse>;

/** `PUT /internal/v1/audit/:workspaceId/retention`. */
export const AuditRetentionRequest = Type.Object(
  { days: Type.Integer({ minimum: 1, maximum: 3_650 }) },
  closed,
);
export type AuditRetentionRequest = Static<typeof AuditRetentionRequest>;

/** `PUT /internal/v1/consent/:workspaceId/settings`: a workspace's own keywords and texts. */
export const ConsentSettings = Type.Object(
  {
    keywords: Type.Object(
      {
        optOut: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 50 })),
        optIn: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 50 })),
        help: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 50 })),
      },
      closed,
    ),
    /** Confirmation texts by language (`en`, `es`, … or `default`), replacing the built-in ones. */
    confirmations: Type.Record(
      Type.String({ pattern: '^([a-z]{2}|default)$' }),
      Type.Object(
        {
          optOut: Type.Optional(Type.String({ minLength: 1, maxLength: 1_024 })),
          optIn: Type.Optional(Type.String({ minLength: 1, maxLength: 1_024 })),
          help: Type.Optional(Type.String({ minLength: 1, maxLength: 1_024 })),
        },
        closed,
      ),
      { maxProperties: 20 },
    ),
  },
  closed,
);
export type ConsentSettings = Static<typeof ConsentSettings>;

export const WorkspaceParams = Type.Object({ workspaceId: WorkspaceIdParam }, closed);
export const ContactParams = Type.Object({ workspaceId: WorkspaceIdParam, contact: Contact }, closed);
export const OkResponse = Type.Object({ ok: Type.Literal(true) }, closed);

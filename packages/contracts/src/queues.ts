import { type Static, type TSchema, Type } from '@sinclair/typebox';

/**
 * The queue registry: queue name -> payload schema -> default job options.
 *
 * NEVER RENAME a queue: names are persisted in Redis, so a rename strands every job
 * already queued. A breaking payload change gets a new version (`message.send.v2`) and
 * both run side by side until the old queue drains.
 *
 * Payload schemas are closed (`additionalProperties: false`), which keeps secrets out
 * of job payloads by construction: there is no field for a token, and no room for one.
 */

const Id = (description: string) => Type.String({ minLength: 1, maxLength: 128, description });
const WaId = Type.String({ pattern: '^[0-9]{6,15}$', description: 'WhatsApp user id (digits, no +)' });
const IsoTime = Type.String({ format: 'date-time', description: 'ISO-8601 timestamp' });
const closed = { additionalProperties: false } as const;

export const MessageCategory = Type.Union([
  Type.Literal('marketing'),
  Type.Literal('utility'),
  Type.Literal('authentication'),
  Type.Literal('service'),
]);
export type MessageCategory = Static<typeof MessageCategory>;

export const SendContent = Type.Union([
  Type.Object(
    {
      type: Type.Literal('text'),
      text: Type.Object(
        { body: Type.String({ minLength: 1, maxLength: 4096 }), previewUrl: Type.Optional(Type.Boolean()) },
        closed,
      ),
    },
    closed,
  ),
  Type.Object(
    {
      type: Type.Literal('template'),
      template: Type.Object(
        {
          name: Type.String({ minLength: 1, maxLength: 512 }),
          language: Type.String({ minLength: 2, maxLength: 15 }),
          components: Type.Optional(Type.Array(Type.Record(Type.String(), Type.Unknown()), { maxItems: 20 })),
        },
        closed,
      ),
    },
    closed,
  ),
  Type.Object(
    {
      type: Type.Union([
        Type.Literal('image'),
        Type.Literal('video'),
        Type.Literal('audio'),
        Type.Literal('document'),
        Type.Literal('sticker'),
      ]),
      media: Type.Object(
        {
          id: Type.Optional(Type.String({ minLength: 1 })),
          link: Type.Optional(Type.String({ format: 'uri' })),
          caption: Type.Optional(Type.String({ maxLength: 1024 })),
          filename: Type.Optional(Type.String({ maxLength: 240 })),
        },
        closed,
      ),
    },
    closed,
  ),
  Type.Object(
    { type: Type.Literal('interactive'), interactive: Type.Record(Type.String(), Type.Unknown()) },
    closed,
  ),
]);
export type SendContent = Static<typeof SendContent>;

/** A command to call Graph once for one stored message. Carries no secret. */
export const MessageSendV1 = Type.Object(
  {
    workspaceId: Id('owning workspace'),
    messageId: Id('wapi message id; the send ledger key'),
    phoneNumberId: Id('Meta phone-number-id to send from'),
    to: WaId,
    category: MessageCategory,
    content: SendContent,
    replyToWamid: Type.Optional(Type.String({ minLength: 1 })),
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
    messageId: Type.Optional(Id('wapi message id, when known')),
    wamid: Type.Optional(Type.String({ minLength: 1 })),
    recipient: WaId,
    status: MessageStatus,
    occurredAt: IsoTime,
    source: Type.Union([Type.Literal('sender'), Type.Literal('webhook')]),
    error: Type.Optional(
      Type.Object(
        { code: Type.Integer(), title: Type.String(), classification: Type.Optional(Type.String()) },
        closed,
      ),
    ),
  },
  closed,
);
export type MessageEventV1 = Static<typeof MessageEventV1>;

/** One inbound customer message, already routed to its workspace. */
export const MessageInboundV1 = Type.Object(
  {
    workspaceId: Id('owning workspace'),
    phoneNumberId: Id('receiving business number'),
    from: WaId,
    wamid: Type.String({ minLength: 1 }),
    type: Type.String({ minLength: 1, maxLength: 32 }),
    receivedAt: IsoTime,
    journalId: Id('webhook journal entry it came from'),
    message: Type.Record(Type.String(), Type.Unknown(), {
      description: 'the Meta message object as received',
    }),
  },
  closed,
);
export type MessageInboundV1 = Static<typeof MessageInboundV1>;

/** An opt-out or opt-in observed anywhere (keyword, button, user_preferences, error 131050, API). */
export const ConsentSignalV1 = Type.Object(
  {
    workspaceId: Id('owning workspace'),
    contact: WaId,
    signal: Type.Union([Type.Literal('opt_out'), Type.Literal('opt_in')]),
    scope: Type.Union([Type.Literal('all'), Type.Literal('marketing')]),
    source: Type.Union([
      Type.Literal('keyword'),
      Type.Literal('stop_promotions_button'),
      Type.Literal('user_preferences'),
      Type.Literal('error_131050'),
      Type.Literal('api'),
    ]),
    evidence: Type.Object(
      { wamid: Type.Optional(Type.String()), text: Type.Optional(Type.String({ maxLength: 1024 })) },
      closed,
    ),
    observedAt: IsoTime,
  },
  closed,
);
export type ConsentSignalV1 = Static<typeof ConsentSignalV1>;

/** One audit entry to append to a workspace's hash chain. */
export const AuditV1 = Type.Object(
  {
    workspaceId: Id('owning workspace'),
    actor: Type.Object({ type: Type.String({ minLength: 1 }), id: Type.String({ minLength: 1 }) }, closed),
    action: Type.String({ minLength: 1, maxLength: 128 }),
    target: Type.Object({ type: Type.String({ minLength: 1 }), id: Type.String({ minLength: 1 }) }, closed),
    at: IsoTime,
    data: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  },
  closed,
);
export type AuditV1 = Static<typeof AuditV1>;

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
    defaults: {
      attempts: 10,
      backoff: { type: 'exponential', delay: 500 },
      removeOnComplete: keepCompleted,
      removeOnFail: false,
    },
  },
  'message.inbound.v1': {
    payload: MessageInboundV1,
    producers: ['webhook-ingest'],
    consumer: 'gateway',
    defaults: {
      attempts: 10,
      backoff: { type: 'exponential', delay: 500 },
      removeOnComplete: keepCompleted,
      removeOnFail: false,
    },
  },
  'consent.signal.v1': {
    payload: ConsentSignalV1,
    producers: ['webhook-ingest', 'gateway'],
    consumer: 'compliance',
    defaults: {
      attempts: 10,
      backoff: { type: 'exponential', delay: 500 },
      removeOnComplete: keepCompleted,
      removeOnFail: false,
    },
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

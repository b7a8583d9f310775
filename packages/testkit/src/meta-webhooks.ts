import { createHmac, randomBytes } from 'node:crypto';
import type {
  InboundMessage,
  MessagesChangeValue,
  StatusObject,
  TemplateStatusUpdateValue,
  UserPreferencesValue,
  WebhookChange,
  WebhookContact,
  WebhookEnvelope,
  WebhookError,
} from '@wapi/contracts';
import { metaJsonEncode } from '@wapi/contracts';

// Builders for the webhook bodies Meta POSTs to a callback URL (docs/meta-platform.md §3), typed by the
// schemas in @wapi/contracts and checked against them by test/meta-webhooks.test.ts. Every
// field has a realistic default; every default can be overridden.

/** The display number the builders use when none is given (Meta's documentation example). */
export const DEFAULT_DISPLAY_PHONE_NUMBER = '15550783881';

/** Unix seconds now, as Meta writes `timestamp`. */
const nowSeconds = () => Math.floor(Date.now() / 1_000);

/**
 * A fresh wamid. Real ones are `wamid.` + base64, so they may contain `/` and `+` — which is
 * what makes Meta's `\/` escaping (see {@link metaJsonEncode}) matter for signatures.
 */
export function newWamid(): string {
  return `wamid.${randomBytes(30).toString('base64')}`;
}

/** A webhook error object (`statuses[].errors[]`, `messages[].errors[]`; §3.5: title == message). */
export function webhookError(input: {
  code: number;
  title: string;
  message?: string;
  details?: string;
  href?: string;
}): WebhookError {
  return {
    code: input.code,
    title: input.title,
    message: input.message ?? input.title,
    error_data: { details: input.details ?? input.title },
    ...(input.href === undefined ? {} : { href: input.href }),
  };
}

/** A `change` of the given field (§3.3). */
export function webhookChange(field: string, value: object): WebhookChange {
  return { field, value: value as Record<string, unknown> };
}

/**
 * The POST body Meta sends (§3.3): one entry for `wabaId` holding `changes`. `time` is set
 * (unix seconds) only when a change is not of the `messages` field, as Meta does; pass
 * `time` to fix it, or `null` to leave it out.
 */
export function webhookEnvelope(input: {
  wabaId: string;
  changes: WebhookChange[];
  time?: number | null;
}): WebhookEnvelope {
  const needsTime = input.changes.some((c) => c.field !== 'messages');
  const time = input.time === undefined ? (needsTime ? nowSeconds() : undefined) : input.time;
  return {
    object: 'whatsapp_business_account',
    entry: [{ id: input.wabaId, ...(time == null ? {} : { time }), changes: input.changes }],
  };
}

/**
 * The `value` of a `messages` change (§3.3) for one business number. `contacts` defaults
 * to one entry per distinct sender of `messages` (named `profileName`), as Meta sends with
 * inbound messages; status-only values carry no contacts.
 */
export function messagesValue(input: {
  phoneNumberId: string;
  displayPhoneNumber?: string;
  messages?: InboundMessage[];
  statuses?: StatusObject[];
  contacts?: WebhookContact[];
  profileName?: string;
  errors?: WebhookError[];
}): MessagesChangeValue {
  const senders = [...new Set((input.messages ?? []).map((m) => m.from))];
  const contacts =
    input.contacts ??
    (senders.length
      ? senders.map((waId) => ({ profile: { name: input.profileName ?? 'Sheena Nelson' }, wa_id: waId }))
      : undefined);
  return {
    messaging_product: 'whatsapp',
    metadata: {
      display_phone_number: input.displayPhoneNumber ?? DEFAULT_DISPLAY_PHONE_NUMBER,
      phone_number_id: input.phoneNumberId,
    },
    ...(contacts ? { contacts } : {}),
    ...(input.messages ? { messages: input.messages } : {}),
    ...(input.statuses ? { statuses: input.statuses } : {}),
    ...(input.errors ? { errors: input.errors } : {}),
  };
}

/** A `messages` change: {@link messagesValue} wrapped with its field name. */
export function messagesChange(input: Parameters<typeof messagesValue>[0]): WebhookChange {
  return webhookChange('messages', messagesValue(input));
}

/**
 * An inbound text message (§3.4): `from` without `+`, string timestamp. `replyTo` adds the
 * `context` of a reply to a business message; `referral` a Click-to-WhatsApp ad referral.
 */
export function inboundTextMessage(input: {
  from: string;
  text: string;
  id?: string;
  timestamp?: number;
  replyTo?: { id: string; from?: string };
  referral?: Record<string, unknown>;
}): InboundMessage & { type: 'text'; text: { body: string } } {
  return {
    from: input.from.replace(/^\+/, ''),
    id: input.id ?? newWamid(),
    timestamp: String(input.timestamp ?? nowSeconds()),
    type: 'text',
    text: { body: input.text },
    ...(input.replyTo
      ? { context: { from: input.replyTo.from ?? DEFAULT_DISPLAY_PHONE_NUMBER, id: input.replyTo.id } }
      : {}),
    ...(input.referral ? { referral: input.referral } : {}),
  };
}

/** What a failed status carries when the caller names no error (§4: 131000, generic). */
const GENERIC_FAILURE = { code: 131000, title: 'Something went wrong' } as const;

/**
 * A status of a message the business sent (§3.5). A `failed` status always carries
 * `errors` (Meta never sends one without): the given `errors`, else `error`, else a generic
 * 131000. `pricing`/`conversation` are added only when given.
 */
export function statusUpdate(input: {
  wamid: string;
  status: StatusObject['status'];
  recipientId?: string;
  timestamp?: number;
  error?: Parameters<typeof webhookError>[0];
  errors?: WebhookError[];
  pricing?: StatusObject['pricing'];
  conversation?: StatusObject['conversation'];
  bizOpaqueCallbackData?: string;
}): StatusObject {
  const errors =
    input.errors ??
    (input.error || input.status === 'failed' ? [webhookError(input.error ?? GENERIC_FAILURE)] : undefined);
  return {
    id: input.wamid,
    status: input.status,
    timestamp: String(input.timestamp ?? nowSeconds()),
    recipient_id: (input.recipientId ?? '16505551234').replace(/^\+/, ''),
    ...(input.bizOpaqueCallbackData === undefined
      ? {}
      : { biz_opaque_callback_data: input.bizOpaqueCallbackData }),
    ...(input.conversation ? { conversation: input.conversation } : {}),
    ...(input.pricing ? { pricing: input.pricing } : {}),
    ...(errors ? { errors } : {}),
  };
}

/**
 * The `value` of a `user_preferences` change (§9): the user stopped or resumed marketing
 * messages. Wrap it with `webhookChange('user_preferences', …)`.
 */
export function userPreferences(input: {
  phoneNumberId: string;
  waId: string;
  value: 'stop' | 'resume';
  displayPhoneNumber?: string;
  profileName?: string;
  timestamp?: number;
  detail?: string;
}): UserPreferencesValue {
  const waId = input.waId.replace(/^\+/, '');
  return {
    messaging_product: 'whatsapp',
    metadata: {
      display_phone_number: input.displayPhoneNumber ?? DEFAULT_DISPLAY_PHONE_NUMBER,
      phone_number_id: input.phoneNumberId,
    },
    contacts: [{ profile: { name: input.profileName ?? 'Sheena Nelson' }, wa_id: waId }],
    user_preferences: [
      {
        wa_id: waId,
        detail: input.detail ?? `User requested to ${input.value} marketing messages`,
        category: 'marketing_messages',
        value: input.value,
        timestamp: input.timestamp ?? nowSeconds(),
      },
    ],
  };
}

/**
 * The `value` of a `message_template_status_update` change (§3.7). `templateId` is a number
 * in Meta's payload (strings of digits are converted). Wrap it with
 * `webhookChange('message_template_status_update', …)`.
 */
export function templateStatusUpdate(input: {
  templateId: number | string;
  name: string;
  event: string;
  language?: string;
  reason?: string | null;
  category?: string;
  otherInfo?: { title: string; description: string };
}): TemplateStatusUpdateValue {
  const id = Number(input.templateId);
  if (!Number.isSafeInteger(id))
    throw new Error(
      `templateStatusUpdate: templateId must be an integer id, got ${String(input.templateId)}`,
    );
  return {
    event: input.event,
    message_template_id: id,
    message_template_name: input.name,
    message_template_language: input.language ?? 'en_US',
    reason:
      input.reason === undefined ? (input.event === 'REJECTED' ? 'INVALID_FORMAT' : 'NONE') : input.reason,
    ...(input.category === undefined ? {} : { message_template_category: input.category }),
    ...(input.otherInfo ? { other_info: input.otherInfo } : {}),
  };
}

/** Meta's webhook JSON encoding; one implementation, in `@wapi/contracts`. */
export { metaJsonEncode };

/**
 * `X-Hub-Signature-256` for `body` (§3.2): `sha256=` + lowercase hex HMAC-SHA256 keyed with
 * the app secret, over the exact bytes (a string is taken as UTF-8).
 */
export function signWebhook(body: string | Buffer, appSecret: string): string {
  return `sha256=${createHmac('sha256', appSecret).update(body).digest('hex')}`;
}

/**
 * A webhook POST as Meta sends it: `envelope` encoded by {@link metaJsonEncode}, signed with
 * `appSecret`, with its headers. For `app.inject({ method: 'POST', url, ...signedWebhook(…) })`
 * or `fetch(url, { method: 'POST', ...signedWebhook(…) })`.
 */
export function signedWebhook(
  envelope: WebhookEnvelope,
  appSecret: string,
): { body: string; headers: { 'content-type': string; 'x-hub-signature-256': string } } {
  const body = metaJsonEncode(envelope);
  return {
    body,
    headers: { 'content-type': 'application/json', 'x-hub-signature-256': signWebhook(body, appSecret) },
  };
}

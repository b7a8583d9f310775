/**
 * The error catalogue: every stable error code wapi answers with, and its HTTP status.
 *
 * Codes are public contract. They are documented in `docs/errors.md`; a test fails when
 * this table and that file drift. Never rename a code: add a new one and retire the old.
 */
export const ERRORS = {
  // Generic request errors
  VALIDATION_FAILED: { status: 400, message: 'The request is malformed or fails validation.' },
  BAD_REQUEST: {
    status: 400,
    message: 'The request cannot be processed as sent; check its URL, headers and body.',
  },
  ROUTE_NOT_FOUND: {
    status: 404,
    message: 'No route matches this method and path; check both against the API reference.',
  },
  PAYLOAD_TOO_LARGE: { status: 413, message: 'The request body is larger than this endpoint accepts.' },
  UNSUPPORTED_MEDIA_TYPE: {
    status: 415,
    message: 'The request body has a content type this endpoint does not accept.',
  },
  RATE_LIMITED: { status: 429, message: 'Too many requests; retry after the time given in Retry-After.' },
  INTERNAL_ERROR: {
    status: 500,
    message: 'An unexpected error occurred; retry later, and quote the requestId if it persists.',
  },
  SERVICE_UNAVAILABLE: {
    status: 503,
    message: 'This instance cannot take the request now (it is shutting down); retry it.',
  },
  DEPENDENCY_UNAVAILABLE: {
    status: 503,
    message: 'A dependency (Redis, MongoDB, …) is unreachable; retry later.',
  },

  // Service-to-service authentication
  INTERNAL_AUTH_REQUIRED: {
    status: 401,
    message:
      'This internal endpoint requires a service token: send Authorization: Bearer <a token signed with the calling service’s INTERNAL_AUTH_PRIVATE_KEY>.',
  },
  INTERNAL_AUTH_INVALID: {
    status: 401,
    message:
      'The service token is invalid, expired, or issued for another service; check the caller’s INTERNAL_AUTH_PRIVATE_KEY and that this service lists its public key in INTERNAL_AUTH_PUBLIC_KEYS.',
  },

  // Queues
  QUEUE_PAYLOAD_INVALID: {
    status: 500,
    message:
      'A job payload or job id does not match its queue contract; the logged detail names the field to fix.',
  },

  // Domain errors (used by the services built on this foundation)
  CONTACT_OPTED_OUT: { status: 403, message: 'The contact has opted out of messages in this scope.' },
  OUTSIDE_CUSTOMER_SERVICE_WINDOW: {
    status: 422,
    message: 'Free-form messages can only be sent within 24 hours of the customer’s last message.',
  },
  WEBHOOK_SIGNATURE_INVALID: {
    status: 401,
    message: 'The X-Hub-Signature-256 header is missing or does not match the body.',
  },
  VAULT_SECRET_NOT_FOUND: { status: 404, message: 'No secret is stored under this reference.' },

  // vault (issue #8)
  VAULT_ACCESS_DENIED: {
    status: 403,
    message: 'This service may not perform this operation on secrets of this purpose.',
  },
  VAULT_KEY_RETIRED: {
    status: 409,
    message:
      'The secret is sealed under a key version below the minimum; run the rewrap job, or store the secret again.',
  },
  VAULT_SECRET_UNREADABLE: {
    status: 500,
    message: 'The stored secret failed authentication or its key is not configured.',
  },
  VAULT_KEY_EXHAUSTED: {
    status: 503,
    message: 'The current key-encryption key reached its safe number of encryptions; add a new key version.',
  },
  // webhook-ingest (issue #12)
  WEBHOOK_VERIFY_TOKEN_INVALID: {
    status: 403,
    message:
      'The webhook verification handshake failed: hub.mode must be subscribe and hub.verify_token must equal the configured WEBHOOK_VERIFY_TOKEN.',
  },
  WEBHOOK_NOT_CONFIGURED: {
    status: 503,
    message:
      'No Meta app secret is active, so no webhook can be verified; set META_APP_IDS and store each app secret in vault (workspace platform, purpose meta.app_secret, record = app id), then restart.',
  },
  // message-sender (issue #13)
  SEND_OUTCOME_UNKNOWN: {
    status: 409,
    message:
      'A Graph call for this message started and its outcome was never recorded, so it is not resent; check its status webhook before replaying it.',
  },
  MESSAGING_LIMIT_REACHED: {
    status: 429,
    message:
      "The business portfolio's messaging limit (unique recipients of business-initiated messages per rolling 24 h) stayed reached for longer than the sender waits; send later, or within the customer's service window.",
  },

  // gateway (issue #10): identity, access, tenancy
  AUTH_REQUIRED: {
    status: 401,
    message: 'This endpoint needs credentials: send Authorization: Bearer <access token or API key>.',
  },
  AUTH_INVALID: {
    status: 401,
    message:
      'The access token or API key is invalid, expired or revoked; log in again (or refresh), or use a current key.',
  },
  LOGIN_FAILED: { status: 401, message: 'The e-mail address or password is wrong.' },
  LOGIN_THROTTLED: {
    status: 429,
    message: 'Too many failed logins for this account or address; wait for the seconds in Retry-After.',
  },
  REFRESH_TOKEN_INVALID: {
    status: 401,
    message: 'The refresh token is unknown, expired or revoked; log in again.',
  },
  REFRESH_TOKEN_REUSED: {
    status: 401,
    message: 'This refresh token was already used, so every token of its session is revoked; log in again.',
  },
  PERMISSION_DENIED: { status: 403, message: 'Your role in this workspace does not allow this action.' },
  NOT_FOUND: { status: 404, message: 'No such resource in this workspace.' },
  EMAIL_TAKEN: { status: 409, message: 'An account with this e-mail address exists; log in instead.' },
  LAST_OWNER: {
    status: 409,
    message: 'A workspace needs an owner: make another member owner before removing or demoting this one.',
  },
  NOT_IMPLEMENTED: { status: 501, message: 'This endpoint is declared but not available yet.' },
  // gateway, part 2: contacts, phone numbers, messages
  PHONE_NUMBER_INVALID: {
    status: 422,
    message:
      'This is not a possible phone number; give it in international form with its country code (+14155550123).',
  },
  CONTACT_EXISTS: {
    status: 409,
    message: 'A contact with this phone number exists; find it with GET /api/v1/contacts?phone=.',
  },
  PHONE_NUMBER_TAKEN: {
    status: 409,
    message: 'This WhatsApp phone number is already connected to a workspace.',
  },
  PHONE_NUMBER_NOT_CONNECTED: {
    status: 422,
    message:
      'No connected WhatsApp number to send from; connect one (POST /api/v1/phone-numbers) or name phoneNumberId.',
  },
  IDEMPOTENCY_KEY_REUSED: {
    status: 422,
    message: 'This Idempotency-Key was used with another request body; use a new key for a new message.',
  },
  // gateway: messaging leftovers (reactions, assignment) and templates (issue #11, #14)
  REACTION_TARGET_INVALID: {
    status: 422,
    message:
      'The message reacted to is not a sent message of this conversation; name it by its id (msg_…) or wamid once it has one.',
  },
  ASSIGNEE_NOT_MEMBER: {
    status: 422,
    message: 'The assignee is not a member of this workspace; list members with GET /api/v1/members.',
  },
  TEMPLATE_NOT_FOUND: {
    status: 422,
    message:
      'No template with this name in this workspace; create it or sync with POST /api/v1/templates/sync.',
  },
  TEMPLATE_LANGUAGE_UNAVAILABLE: {
    status: 422,
    message: 'The template has no version in this language; send one of the languages it has.',
  },
  TEMPLATE_NOT_APPROVED: {
    status: 422,
    message:
      'The template is not approved by Meta (pending or rejected); only APPROVED templates can be sent.',
  },
  TEMPLATE_PAUSED: {
    status: 422,
    message:
      'Meta paused the template for low quality; wait for it to resume or unpause it, or send another.',
  },
  TEMPLATE_DISABLED: {
    status: 422,
    message: 'Meta disabled the template for low quality; it can no longer be sent: create another.',
  },
  TEMPLATE_PARAMETERS_INVALID: {
    status: 422,
    message: 'The template parameters do not match its definition; check their number and names.',
  },
  TEMPLATE_EXISTS: {
    status: 409,
    message: 'A template with this name and language exists; delete it first or use another name.',
  },
  TEMPLATE_REFUSED_BY_META: {
    status: 422,
    message: 'Meta refused the template; correct it as the message says and create it again.',
  },

  // gateway: Embedded Signup onboarding and number health (issue #14 items 1 and 3)
  ONBOARDING_NOT_CONFIGURED: {
    status: 503,
    message:
      'Embedded Signup is not configured: set META_APP_ID and store the app secret in vault (workspace platform, purpose meta.app_secret, record = the app id).',
  },
  ONBOARDING_STATE_INVALID: {
    status: 400,
    message:
      'The onboarding state is unknown, expired, already used, or was issued to another user or workspace; start again.',
  },
  ONBOARDING_IN_PROGRESS: {
    status: 409,
    message: "The workspace's onboarding steps are running now; read their status and retry when done.",
  },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERRORS;

/** Every code in the catalogue, in declaration order. */
export const ERROR_CODES = Object.keys(ERRORS) as ErrorCode[];

/**
 * An error with a catalogue code. Throw it from domain code; the service-kit error
 * handler turns it into `{ error: { code, message, requestId } }` with the catalogue status.
 */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(code: ErrorCode, message?: string, details?: Record<string, unknown>) {
    super(message ?? ERRORS[code].message);
    this.name = 'AppError';
    this.code = code;
    this.status = ERRORS[code].status;
    this.details = details;
  }
}

export function isAppError(value: unknown): value is AppError {
  return value instanceof AppError;
}

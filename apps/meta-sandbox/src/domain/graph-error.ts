import type { GraphErrorBody, WebhookError } from '@wapi/contracts';
import { newFbtraceId } from './ids';

/** Titles and HTTP status per code, from the error-code table (docs/meta-platform.md §4). */
const CODES: Record<number, { http: number; title: string }> = {
  1: { http: 400, title: 'API Unknown' },
  4: { http: 400, title: 'Application request limit reached' },
  10: { http: 403, title: 'Permission denied' },
  100: { http: 400, title: 'Invalid parameter' },
  // 190 comes from Graph's OAuth layer; routes/graph-auth.ts writes its full messages.
  190: { http: 401, title: 'Invalid OAuth access token' },
  200: { http: 403, title: 'Permission error' },
  // Graph's answer to a path it cannot route (§1.1: a version it never released; unconfirmed).
  2500: { http: 400, title: 'Unknown path components' },
  // Graph's callback verification failure when setting an override URL (§8.3).
  2200: { http: 400, title: 'Callback verification failed' },
  80007: { http: 400, title: 'Rate limit issues' },
  // §4: listed for message_templates (title via a third-party copy, unconfirmed); used for the
  // 100 creations per WABA per hour of §5.4.
  80008: { http: 400, title: 'Too many calls to this WhatsApp Business Account' },
  130472: { http: 400, title: "User's number is part of an experiment" },
  130429: { http: 400, title: 'Rate limit hit' },
  131000: { http: 500, title: 'Something went wrong' },
  131008: { http: 400, title: 'Required parameter is missing' },
  131009: { http: 400, title: 'Parameter value is not valid' },
  131021: { http: 400, title: 'Recipient cannot be sender' },
  131026: { http: 400, title: 'Message undeliverable' },
  131047: { http: 400, title: 'Re-engagement message' },
  131048: { http: 400, title: 'Spam rate limit hit' },
  131049: { http: 400, title: 'This message was not delivered to maintain healthy ecosystem engagement.' },
  131050: {
    http: 400,
    title:
      'Unable to deliver the message. This recipient has chosen to stop receiving marketing messages on WhatsApp from your business',
  },
  131051: { http: 400, title: 'Unsupported message type' },
  131052: { http: 400, title: 'Media download error' },
  131053: { http: 400, title: 'Media upload error' },
  131056: { http: 400, title: '(Business Account, Consumer Account) pair rate limit hit' },
  132000: { http: 400, title: 'Number of parameters does not match the expected number of params' },
  132001: { http: 404, title: 'Template name does not exist in the translation' },
  132012: { http: 400, title: 'Parameter format does not match format in the created template' },
  132015: { http: 400, title: 'Template is Paused' },
  132016: { http: 400, title: 'Template is disabled' },
  133005: { http: 400, title: 'Two step verification PIN Mismatch' },
  133010: { http: 400, title: 'Account not registered' },
  133016: { http: 400, title: 'Account register deregister rate limit exceeded' },
};

export interface GraphErrorOptions {
  subcode?: number;
  type?: string;
  http?: number;
  /** Replaces `(#code) title` entirely (Graph's generic object errors do not use the title form). */
  message?: string;
  /** Errors of Graph's OAuth layer (190) carry no WhatsApp `error_data` (docs/meta-platform.md §1.3). */
  withoutErrorData?: boolean;
}

/** A Meta-style failure: the Graph plugin's error handler answers it with the §1.3 envelope. */
export class GraphError extends Error {
  readonly code: number;
  readonly title: string;
  readonly details: string;
  readonly http: number;
  readonly subcode: number | undefined;
  readonly type: string;
  readonly fullMessage: string | undefined;
  readonly withErrorData: boolean;
  constructor(code: number, details: string, options: GraphErrorOptions = {}) {
    const known = CODES[code];
    const title = known?.title ?? 'API Unknown';
    super(`(#${code}) ${title}`);
    this.code = code;
    this.title = title;
    this.details = details;
    this.http = options.http ?? known?.http ?? 400;
    this.subcode = options.subcode;
    this.type = options.type ?? 'OAuthException';
    this.fullMessage = options.message;
    this.withErrorData = options.withoutErrorData !== true;
  }

  /** §1.3 envelope with a fresh random `fbtrace_id`. */
  toBody(): GraphErrorBody {
    return {
      error: {
        message: this.fullMessage ?? `(#${this.code}) ${this.title}`,
        type: this.type,
        code: this.code,
        ...(this.subcode !== undefined ? { error_subcode: this.subcode } : {}),
        ...(this.withErrorData
          ? { error_data: { messaging_product: 'whatsapp', details: this.details } }
          : {}),
        fbtrace_id: newFbtraceId(),
      },
    };
  }
}

/** Webhook error object (§3.5: `title` == `message`, plus `href`). */
export function webhookError(code: number, details: string): WebhookError {
  const title = CODES[code]?.title ?? 'API Unknown';
  return {
    code,
    title,
    message: title,
    error_data: { details },
    href: '/documentation/business-messaging/whatsapp/support/error-codes',
  };
}

/** Graph's generic "object does not exist / no permission" answer, used for unknown ids and paths. */
export function unknownObject(method: string, id: string): GraphError {
  return new GraphError(100, `Object ${id} not found.`, {
    subcode: 33,
    type: 'GraphMethodException',
    message: `Unsupported ${method.toLowerCase()} request. Object with ID '${id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation.`,
  });
}

export const missing = (param: string) => new GraphError(131008, `The parameter ${param} is required.`);
export const invalid = (param: string, why: string) =>
  new GraphError(131009, `Parameter ${param} is not valid: ${why}`);
export const invalidParam = (details: string) => new GraphError(100, details);

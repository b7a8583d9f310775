import { type Static, Type } from '@sinclair/typebox';

/**
 * Meta's error envelope on synchronous Graph answers (reference §1.3): `message` is
 * `"(#<code>) <title>"`; callers must branch on `code` and `error_data.details`.
 */
export const GraphErrorBody = Type.Object({
  error: Type.Object({
    message: Type.String(),
    type: Type.String(),
    code: Type.Integer(),
    error_subcode: Type.Optional(Type.Integer()),
    error_data: Type.Optional(
      Type.Object({ messaging_product: Type.Optional(Type.Literal('whatsapp')), details: Type.String() }),
    ),
    error_user_title: Type.Optional(Type.String()),
    error_user_msg: Type.Optional(Type.String()),
    fbtrace_id: Type.String(),
  }),
});
export type GraphErrorBody = Static<typeof GraphErrorBody>;

/** The error object inside webhooks (`statuses[].errors`, `messages[].errors`): §3.5, §4 notes. */
export const WebhookError = Type.Object({
  code: Type.Integer(),
  title: Type.String(),
  message: Type.String(),
  error_data: Type.Object({ details: Type.String() }),
  href: Type.Optional(Type.String()),
});
export type WebhookError = Static<typeof WebhookError>;

/** `{"success": true}`: mark-as-read, typing indicator, subscribed_apps, register, deletes (§2.2, §8). */
export const GraphSuccess = Type.Object({ success: Type.Boolean() });
export type GraphSuccess = Static<typeof GraphSuccess>;

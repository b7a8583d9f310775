import { type Static, type TSchema, Type } from '@sinclair/typebox';

const Str = Type.String();
const Opt = <T extends TSchema>(schema: T) => Type.Optional(schema);

/** Media object by uploaded `id` or public `link` (§2.4). Exactly one of the two is allowed. */
export const MediaObject = Type.Object({
  id: Opt(Str),
  link: Opt(Str),
  caption: Opt(Str),
  filename: Opt(Str),
});
export type MediaObject = Static<typeof MediaObject>;

/** A template parameter (§2.7): text (optionally named), currency, date_time, media, payload. */
export const TemplateParameter = Type.Object({
  type: Str,
  text: Opt(Str),
  parameter_name: Opt(Str),
  payload: Opt(Str),
  image: Opt(MediaObject),
  video: Opt(MediaObject),
  document: Opt(MediaObject),
  currency: Opt(Type.Object({ fallback_value: Str, code: Str, amount_1000: Type.Number() })),
  date_time: Opt(Type.Object({ fallback_value: Str })),
});
export type TemplateParameter = Static<typeof TemplateParameter>;

export const TemplateSendComponent = Type.Object({
  type: Str,
  sub_type: Opt(Str),
  index: Opt(Type.Union([Type.String(), Type.Integer()])),
  parameters: Opt(Type.Array(TemplateParameter)),
});
export type TemplateSendComponent = Static<typeof TemplateSendComponent>;

export const InteractiveObject = Type.Object({
  type: Str,
  header: Opt(
    Type.Object({
      type: Str,
      text: Opt(Str),
      image: Opt(MediaObject),
      video: Opt(MediaObject),
      document: Opt(MediaObject),
    }),
  ),
  body: Opt(Type.Object({ text: Str })),
  footer: Opt(Type.Object({ text: Str })),
  action: Type.Object({
    buttons: Opt(Type.Array(Type.Object({ type: Str, reply: Type.Object({ id: Str, title: Str }) }))),
    button: Opt(Str),
    sections: Opt(
      Type.Array(
        Type.Object({
          title: Opt(Str),
          rows: Type.Array(Type.Object({ id: Str, title: Str, description: Opt(Str) })),
        }),
      ),
    ),
  }),
});
export type InteractiveObject = Static<typeof InteractiveObject>;

/**
 * Body of `POST /{phone-number-id}/messages` (§2.1 – §2.10). Loose on purpose: the sandbox
 * validates field by field to answer Meta's specific codes (100, 131008, 131009), and the
 * client sends what its caller built.
 */
export const SendMessageRequest = Type.Object({
  messaging_product: Type.Literal('whatsapp'),
  recipient_type: Opt(Type.Literal('individual')),
  to: Opt(Str),
  type: Opt(Str),
  context: Opt(Type.Object({ message_id: Str })),
  biz_opaque_callback_data: Opt(Str),
  text: Opt(Type.Object({ body: Str, preview_url: Opt(Type.Boolean()) })),
  image: Opt(MediaObject),
  audio: Opt(MediaObject),
  video: Opt(MediaObject),
  document: Opt(MediaObject),
  sticker: Opt(MediaObject),
  location: Opt(
    Type.Object({ latitude: Type.Number(), longitude: Type.Number(), name: Opt(Str), address: Opt(Str) }),
  ),
  contacts: Opt(Type.Array(Type.Record(Type.String(), Type.Unknown()))),
  interactive: Opt(InteractiveObject),
  reaction: Opt(Type.Object({ message_id: Str, emoji: Str })),
  template: Opt(
    Type.Object({
      name: Str,
      language: Type.Object({ code: Str, policy: Opt(Str) }),
      components: Opt(Type.Array(TemplateSendComponent)),
    }),
  ),
  status: Opt(Type.Literal('read')),
  message_id: Opt(Str),
  typing_indicator: Opt(Type.Object({ type: Type.Literal('text') })),
});
export type SendMessageRequest = Static<typeof SendMessageRequest>;

/** HTTP 200 answer of a send (§2.2): accepted, not delivered. */
export const SendMessageResponse = Type.Object({
  messaging_product: Type.Literal('whatsapp'),
  contacts: Type.Array(Type.Object({ input: Str, wa_id: Str })),
  messages: Type.Array(
    Type.Object({
      id: Type.String({ pattern: '^wamid\\.', maxLength: 128 }),
      message_status: Opt(
        Type.Union([Type.Literal('accepted'), Type.Literal('held_for_quality_assessment')]),
      ),
    }),
  ),
});
export type SendMessageResponse = Static<typeof SendMessageResponse>;

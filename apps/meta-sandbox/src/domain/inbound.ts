import type { SandboxInboundSpec } from '@wapi/contracts';

/**
 * What a simulated customer sends (control API, shape in contracts). `kind` names the user
 * action; {@link buildInbound} turns it into Meta's inbound message object (§3.4).
 */
export { SandboxInboundSpec as InboundSpec } from '@wapi/contracts';

export const MEDIA_KINDS = new Set(['image', 'video', 'audio', 'document', 'sticker']);

export const DEFAULT_MIME: Record<string, string> = {
  image: 'image/jpeg',
  video: 'video/mp4',
  audio: 'audio/ogg',
  document: 'application/pdf',
  sticker: 'image/webp',
};

/** The label of the marketing opt-out quick reply (§9, [3P] "STOP PROMOTIONS"). */
export const STOP_PROMOTIONS = 'Stop promotions';

export interface BuiltMedia {
  id: string;
  mimeType: string;
  sha256: string;
  url: string;
}

/**
 * Meta's inbound message object for `spec` (§3.4): `from` without `+`, string timestamps,
 * the type-named object, optional `context`/`referral`, `errors` on unsupported types.
 */
export function buildInbound(
  spec: SandboxInboundSpec,
  base: { from: string; id: string; timestamp: string; businessNumber: string },
  media: BuiltMedia | undefined,
): Record<string, unknown> {
  const message: Record<string, unknown> = { from: base.from, id: base.id, timestamp: base.timestamp };
  const context = (extra: Record<string, unknown> = {}) => {
    if (spec.messageId) message.context = { from: base.businessNumber, id: spec.messageId, ...extra };
    else if (spec.forwarded) message.context = { forwarded: true };
  };
  switch (spec.kind) {
    case 'text':
      message.type = 'text';
      message.text = { body: spec.text ?? '' };
      context();
      break;
    case 'image':
    case 'video':
    case 'audio':
    case 'document':
    case 'sticker': {
      if (!media) {
        // §3.4 / §10 / §12: media over the 100 MB user limit cannot be downloaded by Meta; the
        // webhook carries an `unsupported` message with error 131052 instead of the media.
        message.type = 'unsupported';
        message.unsupported = { type: spec.kind };
        message.errors = [
          {
            code: 131052,
            title: 'Media download error',
            message: 'Media download error',
            error_data: { details: 'Unable to download the media sent by the user: it exceeds 100 MB.' },
          },
        ];
        break;
      }
      message.type = spec.kind;
      const object: Record<string, unknown> = {
        mime_type: media.mimeType,
        sha256: media.sha256,
        id: media.id,
        url: media.url,
      };
      if (spec.caption !== undefined && spec.kind !== 'audio' && spec.kind !== 'sticker')
        object.caption = spec.caption;
      if (spec.kind === 'document') object.filename = spec.filename ?? 'file.pdf';
      if (spec.kind === 'audio') object.voice = spec.voice ?? false;
      if (spec.kind === 'sticker') object.animated = spec.animated ?? false;
      message[spec.kind] = object;
      context();
      break;
    }
    case 'button':
    case 'stop_promotions': {
      // A tap on a template quick reply: type `button`, quoting the template message (§3.4).
      const label = spec.kind === 'stop_promotions' ? STOP_PROMOTIONS : (spec.text ?? 'OK');
      message.type = 'button';
      message.button = { payload: spec.payload ?? label, text: label };
      context();
      break;
    }
    case 'button_reply':
      message.type = 'interactive';
      message.interactive = {
        type: 'button_reply',
        button_reply: { id: spec.replyId ?? '', title: spec.title ?? '' },
      };
      context();
      break;
    case 'list_reply':
      message.type = 'interactive';
      message.interactive = {
        type: 'list_reply',
        list_reply: {
          id: spec.replyId ?? '',
          title: spec.title ?? '',
          ...(spec.description !== undefined ? { description: spec.description } : {}),
        },
      };
      context();
      break;
    case 'location':
      message.type = 'location';
      message.location = {
        latitude: spec.latitude ?? 0,
        longitude: spec.longitude ?? 0,
        ...(spec.name !== undefined ? { name: spec.name } : {}),
        ...(spec.address !== undefined ? { address: spec.address } : {}),
        ...(spec.url !== undefined ? { url: spec.url } : {}),
      };
      break;
    case 'reaction':
      message.type = 'reaction';
      // §3.4: `emoji` omitted when the user removes the reaction.
      message.reaction = { message_id: spec.messageId ?? '', ...(spec.emoji ? { emoji: spec.emoji } : {}) };
      break;
    case 'contacts':
      message.type = 'contacts';
      message.contacts = spec.contacts ?? [
        { name: { formatted_name: 'Jane Doe', first_name: 'Jane' }, phones: [] },
      ];
      break;
    case 'order':
      message.type = 'order';
      message.order = spec.order ?? { catalog_id: '0', text: '', product_items: [] };
      break;
    case 'unsupported':
      // §3.4: unsupported types carry a 131051 error.
      message.type = 'unsupported';
      message.unsupported = { type: spec.unsupportedType ?? 'poll' };
      message.errors = [
        {
          code: 131051,
          title: 'Message type unknown',
          message: 'Message type unknown',
          error_data: { details: 'Message type is currently not supported.' },
        },
      ];
      break;
  }
  if (spec.referral) message.referral = spec.referral;
  return message;
}

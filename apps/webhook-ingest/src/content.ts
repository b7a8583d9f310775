import type { InboundContentV1 } from '@wapi/contracts';

type Raw = Record<string, unknown>;
const obj = (v: unknown): Raw => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Raw) : {});
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
/** Copies the named keys that are present (the schema check after this rejects wrong types). */
const pick = (source: Raw, keys: readonly string[]): Raw => {
  const out: Raw = {};
  for (const k of keys) if (source[k] !== undefined) out[k] = source[k];
  return out;
};

const MEDIA = new Set(['image', 'video', 'audio', 'document', 'sticker']);

/**
 * Projects Meta's message object (§3.4) onto the closed `InboundContentV1` shapes, keeping
 * only known fields, so nothing Meta adds tomorrow rides along into a job. The result is
 * checked against the queue schema by the producer; a type we do not model becomes
 * `unsupported` with its type name.
 */
export function projectContent(message: Raw): InboundContentV1 {
  const type = str(message.type) ?? 'unknown';
  const body = obj(message[type]);
  if (type === 'text') return { type, text: { body: str(body.body) ?? '' } };
  if (MEDIA.has(type)) {
    return {
      type: type as 'image',
      media: pick(body, ['id', 'mime_type', 'sha256', 'caption', 'filename', 'voice', 'animated']) as never,
    };
  }
  if (type === 'location')
    return { type, location: pick(body, ['latitude', 'longitude', 'name', 'address', 'url']) as never };
  if (type === 'button') return { type, button: pick(body, ['payload', 'text']) as never };
  if (type === 'reaction') return { type, reaction: pick(body, ['message_id', 'emoji']) as never };
  if (type === 'interactive') {
    const kind = str(body.type);
    if (kind === 'button_reply' || kind === 'list_reply' || kind === 'nfm_reply') {
      const fields =
        kind === 'button_reply'
          ? ['id', 'title']
          : kind === 'list_reply'
            ? ['id', 'title', 'description']
            : ['name', 'body', 'response_json'];
      return { type, interactive: { type: kind, [kind]: pick(obj(body[kind]), fields) } as never };
    }
  }
  if (type === 'system') return { type, system: pick(body, ['type', 'body', 'wa_id']) as never };
  return { type: 'unsupported', unsupported: { type: type.slice(0, 64) } };
}

/** Meta's marketing opt-out quick reply ("Stop promotions"), in any case. */
export function isStopPromotionsButton(content: InboundContentV1): boolean {
  return content.type === 'button' && /^stop promotions$/i.test(content.button.payload.trim());
}

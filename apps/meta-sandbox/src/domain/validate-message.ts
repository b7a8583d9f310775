import { GraphError, invalid, invalidParam, missing } from './graph-error';

/** What a `POST /{phone-number-id}/messages` body asks for, once it passed Meta's checks. */
export type SendCommand =
  | { kind: 'read'; messageId: string; typing: boolean }
  | {
      kind: 'message';
      to: string;
      type: MessageType;
      content: Record<string, unknown>;
      contextId: string | undefined;
      bizOpaque: string | undefined;
    };

export const MESSAGE_TYPES = [
  'text',
  'image',
  'audio',
  'video',
  'document',
  'sticker',
  'location',
  'contacts',
  'interactive',
  'template',
  'reaction',
] as const;
export type MessageType = (typeof MESSAGE_TYPES)[number];
const MEDIA_TYPES = new Set(['image', 'audio', 'video', 'document', 'sticker']);

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function str(obj: Obj, key: string, path: string, max?: number, required = true): string | undefined {
  const value = obj[key];
  if (value === undefined || value === null) {
    if (required) throw missing(path);
    return undefined;
  }
  if (typeof value !== 'string') throw invalid(path, 'must be a string');
  if (required && value.length === 0) throw missing(path);
  // Meta's code 100 covers "a parameter over its type's length limit" (§4); the exact code for
  // an over-length text body is unconfirmed (§12).
  if (max !== undefined && value.length > max)
    throw invalidParam(`Param ${path} must be at most ${max} characters long.`);
  return value;
}

function obj(parent: Obj, key: string, path: string): Obj {
  const value = parent[key];
  if (value === undefined || value === null) throw missing(path);
  if (!isObj(value)) throw invalid(path, 'must be an object');
  return value;
}

/** §2.4: exactly one of `id` or `link`; captions ≤ 1,024; none on audio/sticker. */
function validateMedia(media: Obj, type: string, path: string): void {
  const hasId = media.id !== undefined;
  const hasLink = media.link !== undefined;
  if (!hasId && !hasLink) throw missing(`${path}.id or ${path}.link`);
  if (hasId && hasLink) throw invalid(path, 'provide only one of id or link');
  if (hasId) str(media, 'id', `${path}.id`);
  if (hasLink) {
    const link = str(media, 'link', `${path}.link`) ?? '';
    if (!/^https?:\/\/[^\s]+$/i.test(link)) throw invalid(`${path}.link`, 'must be an http(s) URL');
  }
  if (media.caption !== undefined) {
    if (type === 'audio' || type === 'sticker') throw invalidParam(`Param ${path}.caption is not supported.`);
    str(media, 'caption', `${path}.caption`, 1_024);
  }
  if (media.voice !== undefined) {
    // §3.5: voice notes (audio with `voice: true`) may later get `played`.
    if (type !== 'audio') throw invalidParam(`Param ${path}.voice is only for audio.`);
    if (typeof media.voice !== 'boolean') throw invalid(`${path}.voice`, 'must be a boolean');
  }
  if (media.filename !== undefined) {
    if (type !== 'document') throw invalidParam(`Param ${path}.filename is only for documents.`);
    str(media, 'filename', `${path}.filename`, 240);
  }
}

/** §2.5 / §2.6 limits (also §5.5). */
function validateInteractive(i: Obj): void {
  const kind = str(i, 'type', 'interactive.type');
  if (kind !== 'button' && kind !== 'list')
    throw invalid('interactive.type', 'supported types are button and list');
  const body = obj(i, 'body', 'interactive.body');
  str(body, 'text', 'interactive.body.text', kind === 'button' ? 1_024 : 4_096);
  if (i.footer !== undefined)
    str(obj(i, 'footer', 'interactive.footer'), 'text', 'interactive.footer.text', 60);
  if (i.header !== undefined) {
    const header = obj(i, 'header', 'interactive.header');
    const headerType = str(header, 'type', 'interactive.header.type');
    if (headerType === 'text') str(header, 'text', 'interactive.header.text', 60);
    else if (headerType === 'image' || headerType === 'video' || headerType === 'document') {
      if (kind === 'list') throw invalid('interactive.header.type', 'list messages only take a text header');
      validateMedia(obj(header, headerType, `interactive.header.${headerType}`), headerType, 'header');
    } else throw invalid('interactive.header.type', 'must be text, image, video or document');
  }
  const action = obj(i, 'action', 'interactive.action');
  if (kind === 'button') {
    const buttons = action.buttons;
    if (!Array.isArray(buttons) || buttons.length === 0) throw missing('interactive.action.buttons');
    if (buttons.length > 3) throw invalid('interactive.action.buttons', 'at most 3 buttons');
    const ids = new Set<string>();
    buttons.forEach((b, n) => {
      if (!isObj(b)) throw invalid(`interactive.action.buttons[${n}]`, 'must be an object');
      if (b.type !== 'reply') throw invalid(`interactive.action.buttons[${n}].type`, 'must be reply');
      const reply = obj(b, 'reply', `buttons[${n}].reply`);
      const id = str(reply, 'id', `buttons[${n}].reply.id`, 256) ?? '';
      str(reply, 'title', `buttons[${n}].reply.title`, 20);
      if (ids.has(id)) throw invalid(`buttons[${n}].reply.id`, 'button ids must be unique');
      ids.add(id);
    });
    return;
  }
  str(action, 'button', 'interactive.action.button', 20);
  const sections = action.sections;
  if (!Array.isArray(sections) || sections.length === 0) throw missing('interactive.action.sections');
  if (sections.length > 10) throw invalid('interactive.action.sections', 'at most 10 sections');
  let rows = 0;
  sections.forEach((s, n) => {
    if (!isObj(s)) throw invalid(`sections[${n}]`, 'must be an object');
    str(s, 'title', `sections[${n}].title`, 24, sections.length > 1);
    const list = s.rows;
    if (!Array.isArray(list) || list.length === 0) throw missing(`sections[${n}].rows`);
    for (const [m, row] of list.entries()) {
      if (!isObj(row)) throw invalid(`sections[${n}].rows[${m}]`, 'must be an object');
      str(row, 'id', `sections[${n}].rows[${m}].id`, 200);
      str(row, 'title', `sections[${n}].rows[${m}].title`, 24);
      str(row, 'description', `sections[${n}].rows[${m}].description`, 72, false);
    }
    rows += list.length;
  });
  if (rows > 10) throw invalid('interactive.action.sections', 'at most 10 rows in total');
}

function validateContent(type: MessageType, content: Obj): void {
  switch (type) {
    case 'text':
      str(content, 'body', 'text.body', 4_096);
      if (content.preview_url !== undefined && typeof content.preview_url !== 'boolean')
        throw invalid('text.preview_url', 'must be a boolean');
      return;
    case 'location':
      for (const key of ['latitude', 'longitude'] as const) {
        const value = content[key];
        if (value === undefined) throw missing(`location.${key}`);
        const n = typeof value === 'string' ? Number(value) : value;
        if (typeof n !== 'number' || !Number.isFinite(n))
          throw invalid(`location.${key}`, 'must be a number');
        if (Math.abs(n) > (key === 'latitude' ? 90 : 180)) throw invalid(`location.${key}`, 'out of range');
      }
      return;
    case 'reaction':
      str(content, 'message_id', 'reaction.message_id');
      // §2.8: an empty emoji removes the reaction.
      if (typeof content.emoji !== 'string') throw missing('reaction.emoji');
      return;
    case 'interactive':
      validateInteractive(content);
      return;
    case 'template': {
      str(content, 'name', 'template.name', 512);
      str(obj(content, 'language', 'template.language'), 'code', 'template.language.code');
      if (content.components !== undefined && !Array.isArray(content.components))
        throw invalid('template.components', 'must be an array');
      return;
    }
    default:
      if (MEDIA_TYPES.has(type)) validateMedia(content, type, type);
  }
}

/** Validates a send body as Meta does (§2, §12 "Send path"); throws {@link GraphError}. */
export function validateSend(body: unknown): SendCommand {
  if (!isObj(body)) throw invalidParam('The request body must be a JSON object.');
  if (body.messaging_product === undefined)
    throw invalidParam('The parameter messaging_product is required.');
  if (body.messaging_product !== 'whatsapp')
    throw invalidParam('Param messaging_product must be "whatsapp".');

  // §2.10: mark as read, optionally with a typing indicator.
  if (body.status !== undefined) {
    if (body.status !== 'read') throw invalid('status', 'must be "read"');
    const messageId = str(body, 'message_id', 'message_id') ?? '';
    let typing = false;
    if (body.typing_indicator !== undefined) {
      const indicator = obj(body, 'typing_indicator', 'typing_indicator');
      if (indicator.type !== 'text') throw invalid('typing_indicator.type', 'must be "text"');
      typing = true;
    }
    return { kind: 'read', messageId, typing };
  }

  if (body.recipient_type !== undefined && body.recipient_type !== 'individual')
    throw invalid('recipient_type', 'the sandbox emulates individual recipients only');
  const to = str(body, 'to', 'to') ?? '';
  const rawType = body.type ?? 'text'; // Graph defaults `type` to text.
  if (typeof rawType !== 'string' || !(MESSAGE_TYPES as readonly string[]).includes(rawType))
    throw invalidParam(`Param type must be one of {${MESSAGE_TYPES.join(', ').toUpperCase()}}.`);
  const type = rawType as MessageType;
  let content: Obj;
  if (type === 'contacts') {
    // §2.1: contacts is an array of contact cards, each with name.formatted_name.
    const cards = body.contacts;
    if (!Array.isArray(cards) || cards.length === 0) throw missing('contacts');
    cards.forEach((card, n) => {
      if (!isObj(card)) throw invalid(`contacts[${n}]`, 'must be an object');
      str(obj(card, 'name', `contacts[${n}].name`), 'formatted_name', `contacts[${n}].name.formatted_name`);
    });
    content = { contacts: cards };
  } else {
    content = obj(body, type, type);
    validateContent(type, content);
  }

  let contextId: string | undefined;
  if (body.context !== undefined) {
    // §2.8: a reaction cannot be a contextual reply.
    if (type === 'reaction') throw invalidParam('Param context is not supported for reaction messages.');
    contextId = str(obj(body, 'context', 'context'), 'message_id', 'context.message_id');
  }
  const bizOpaque = str(body, 'biz_opaque_callback_data', 'biz_opaque_callback_data', 512, false);
  return { kind: 'message', to, type, content, contextId, bizOpaque };
}

export { GraphError };

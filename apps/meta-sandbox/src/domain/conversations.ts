import type { World } from './world';

/** One bubble of the sandbox page: what a person would see in the WhatsApp chat. */
export interface Bubble {
  direction: 'in' | 'out';
  wamid: string;
  type: string;
  text: string;
  at: number;
  /** Outbound only: the furthest status reached, or `failed` (terminal) with its code. */
  status?: 'accepted' | 'sent' | 'delivered' | 'read' | 'played' | 'failed';
  errorCode?: number;
}

export interface ConversationView {
  waId: string;
  name: string;
  bubbles: Bubble[];
}

export interface NumberView {
  id: string;
  display: string;
  verifiedName: string;
  qualityRating: string;
  messagingLimit: string;
  throughputMps: number;
  registered: boolean;
  conversations: ConversationView[];
}

type Message = Record<string, unknown>;
const field = (m: Message, key: string): Message =>
  m[key] && typeof m[key] === 'object' ? (m[key] as Message) : {};
const str = (value: unknown): string => (typeof value === 'string' ? value : '');

/** A one-line rendering of a Meta message object (sent payload or inbound webhook message). */
export function summarise(message: Message): string {
  const type = str(message.type);
  switch (type) {
    case 'text':
      return str(field(message, 'text').body);
    case 'template':
      return `template ${str(field(message, 'template').name)}`;
    case 'image':
    case 'video':
    case 'audio':
    case 'document':
    case 'sticker': {
      const media = field(message, type);
      return `[${type}]${media.caption ? ` ${str(media.caption)}` : media.filename ? ` ${str(media.filename)}` : ''}`;
    }
    case 'interactive': {
      const interactive = field(message, 'interactive');
      const reply = field(interactive, 'button_reply').title ?? field(interactive, 'list_reply').title;
      return reply ? str(reply) : str(field(interactive, 'body').text) || '[interactive]';
    }
    case 'button':
      return str(field(message, 'button').text);
    case 'location': {
      const location = field(message, 'location');
      return `📍 ${str(location.name) || `${String(location.latitude)}, ${String(location.longitude)}`}`;
    }
    case 'reaction':
      return `reacted ${str(field(message, 'reaction').emoji)}`;
    case 'contacts':
      return '[contact card]';
    default:
      return `[${type || 'message'}]`;
  }
}

const RANK = { accepted: 0, sent: 1, delivered: 2, read: 3, played: 4 } as const;

/**
 * Every business number with its conversations, oldest bubble first: the data of the
 * `/_sandbox` page. Outbound bubbles carry their furthest status (a `failed` wins).
 */
export function conversationsView(world: World): NumberView[] {
  const byNumber = new Map<string, Map<string, Bubble[]>>();
  const push = (numberId: string, waId: string, bubble: Bubble) => {
    const chats = byNumber.get(numberId) ?? new Map<string, Bubble[]>();
    byNumber.set(numberId, chats);
    chats.set(waId, [...(chats.get(waId) ?? []), bubble]);
  };

  for (const m of world.outbound.values()) {
    const failed = m.statuses.find((s) => s.status === 'failed');
    let status: Bubble['status'] = 'accepted';
    for (const s of m.statuses) {
      if (s.status !== 'failed' && s.status in RANK && RANK[s.status as keyof typeof RANK] > RANK[status]) {
        status = s.status as keyof typeof RANK;
      }
    }
    push(m.phoneNumberId, m.to, {
      direction: 'out',
      wamid: m.wamid,
      type: m.type,
      text: summarise({ ...m.payload, type: m.type }),
      at: m.at,
      ...(failed
        ? {
            status: 'failed' as const,
            ...(failed.errorCode === undefined ? {} : { errorCode: failed.errorCode }),
          }
        : { status }),
    });
  }
  for (const m of world.inbound.values()) {
    push(m.phoneNumberId, m.from, {
      direction: 'in',
      wamid: m.wamid,
      type: m.type,
      text: summarise(m.message),
      at: m.at,
    });
  }

  return [...world.numbers.values()].map((n) => ({
    id: n.id,
    display: n.display,
    verifiedName: n.verifiedName,
    qualityRating: n.qualityRating,
    messagingLimit: n.messagingLimit,
    throughputMps: n.throughputMps,
    registered: n.registered,
    conversations: [...(byNumber.get(n.id) ?? new Map<string, Bubble[]>()).entries()].map(
      ([waId, bubbles]) => ({
        waId,
        name: world.customers.get(waId)?.name ?? waId,
        bubbles: bubbles.sort((a, b) => a.at - b.at),
      }),
    ),
  }));
}

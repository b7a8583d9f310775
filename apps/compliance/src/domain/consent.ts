import { createHash } from 'node:crypto';
import type { ConsentScope, ConsentSettings, ConsentSource, ConsentState } from '@wapi/contracts';
import type { KeywordLanguage } from './keywords';

/**
 * Consent rules as data in, data out: which scopes a signal touches, what the new state
 * is, whether that is a change, and the text that confirms it.
 */

export type ConsentSignalKind = 'opt_out' | 'opt_in';

/**
 * Scopes a signal applies to. An opt-out of `all` is recorded on `all` (it already blocks
 * marketing); an opt-in of `all` ("START") lifts both, because a customer who asks for
 * messages again expects the marketing ones they had stopped too; an opt-in or opt-out of
 * `marketing` touches marketing only (a START cannot be overridden by Meta's marketing
 * button, which only ever sends opt-outs of marketing).
 */
export function scopesOf(signal: ConsentSignalKind, scope: ConsentScope): ConsentScope[] {
  if (signal === 'opt_in' && scope === 'all') return ['all', 'marketing'];
  return [scope];
}

export function stateOf(signal: ConsentSignalKind): ConsentState {
  return signal === 'opt_out' ? 'opted_out' : 'opted_in';
}

/** The stored state of one scope, as far as the decision needs it. */
export interface ScopeState {
  state: ConsentState;
  observedAt: Date;
  eventId: string;
  changed: boolean;
}

/** What applying one event to one scope does. */
export type ScopeDecision =
  /** The event was applied before (a redelivery): nothing to write; `changed` as recorded then. */
  | { kind: 'already_applied'; changed: boolean }
  /** A newer event already decided this scope: record the event, change nothing. */
  | { kind: 'superseded' }
  /** Write the new state; `changed` is false when it equals the current one (a repeated STOP). */
  | { kind: 'apply'; changed: boolean };

/** A contact with no record is opted in: consent to message them was collected upstream. */
export function decideScope(
  current: ScopeState | null,
  event: { eventId: string; state: ConsentState; observedAt: Date },
): ScopeDecision {
  if (!current) return { kind: 'apply', changed: event.state === 'opted_out' };
  if (current.eventId === event.eventId) return { kind: 'already_applied', changed: current.changed };
  if (current.observedAt.getTime() > event.observedAt.getTime()) return { kind: 'superseded' };
  return { kind: 'apply', changed: current.state !== event.state };
}

/**
 * The id of one consent event: a hash of everything that identifies it, so the same signal
 * delivered twice (a queue redelivery, a webhook Meta resends) is the same event.
 */
export function consentEventId(parts: {
  workspaceId: string;
  contact: string;
  signal: ConsentSignalKind;
  scope: ConsentScope;
  source: ConsentSource;
  /** The inbound message, or the API call's idempotency key. */
  reference?: string | undefined;
  observedAt: string;
}): string {
  const canonical = JSON.stringify([
    parts.workspaceId,
    parts.contact,
    parts.signal,
    parts.scope,
    parts.source,
    parts.reference ?? '',
    // With a reference (a wamid, an idempotency key) the time is not part of the identity:
    // Meta resends a message with the same id, and a retried API call may carry a new time.
    parts.reference ? '' : parts.observedAt,
  ]);
  return createHash('sha256').update(canonical).digest('hex').slice(0, 32);
}

/**
 * How long after an opt-out a YES-like word still means "opt me back in": the customer
 * service window the opt-out opened, during which the confirmation invited the answer.
 */
export const YES_AFTER_OPT_OUT_MS = 24 * 3600_000;

/** Whether a YES-like word from the contact now answers their last opt-out. */
export function yesCountsAsOptIn(all: ScopeState | null, now: Date): boolean {
  return (
    all !== null &&
    all.state === 'opted_out' &&
    now.getTime() - all.observedAt.getTime() <= YES_AFTER_OPT_OUT_MS
  );
}

export type ConfirmationKind = 'optOut' | 'optIn' | 'help';

/** Built-in confirmation texts, by keyword language. */
export const CONFIRMATIONS: Record<KeywordLanguage, Record<ConfirmationKind, string>> = {
  en: {
    optOut:
      'You have been unsubscribed and will receive no more messages from us. Reply START to subscribe again.',
    optIn: 'You are subscribed again. Reply STOP at any time to unsubscribe.',
    help: 'Reply STOP to unsubscribe from our messages, or START to subscribe again.',
  },
  es: {
    optOut:
      'Has cancelado la suscripción y no recibirás más mensajes. Responde ALTA para suscribirte de nuevo.',
    optIn: 'Te has suscrito de nuevo. Responde BAJA en cualquier momento para cancelar.',
    help: 'Responde BAJA para dejar de recibir mensajes o ALTA para volver a recibirlos.',
  },
  pt: {
    optOut:
      'Sua inscrição foi cancelada e você não receberá mais mensagens. Responda VOLTAR para se inscrever de novo.',
    optIn: 'Você está inscrito novamente. Responda PARE a qualquer momento para cancelar.',
    help: 'Responda PARE para não receber mais mensagens ou VOLTAR para recebê-las de novo.',
  },
  fr: {
    optOut: 'Vous êtes désabonné et ne recevrez plus de messages. Répondez DÉMARRER pour vous réabonner.',
    optIn: 'Vous êtes de nouveau abonné. Répondez ARRÊT à tout moment pour vous désabonner.',
    help: 'Répondez ARRÊT pour ne plus recevoir de messages, ou DÉMARRER pour les recevoir à nouveau.',
  },
  de: {
    optOut:
      'Sie wurden abgemeldet und erhalten keine Nachrichten mehr. Antworten Sie ANMELDEN, um sich erneut anzumelden.',
    optIn: 'Sie sind wieder angemeldet. Antworten Sie jederzeit STOPP, um sich abzumelden.',
    help: 'Antworten Sie STOPP, um keine Nachrichten mehr zu erhalten, oder ANMELDEN, um sie wieder zu erhalten.',
  },
  hi: {
    optOut: 'आपकी सदस्यता रद्द कर दी गई है, अब आपको हमारे संदेश नहीं मिलेंगे। फिर से जुड़ने के लिए शुरू लिखें।',
    optIn: 'आप फिर से जुड़ गए हैं। कभी भी सदस्यता रद्द करने के लिए रुको लिखें।',
    help: 'संदेश बंद करने के लिए रुको, फिर से शुरू करने के लिए शुरू लिखें।',
  },
  ar: {
    optOut: 'تم إلغاء اشتراكك ولن تصلك رسائل منا بعد الآن. أرسل ابدأ للاشتراك من جديد.',
    optIn: 'تم تجديد اشتراكك. أرسل توقف في أي وقت لإلغاء الاشتراك.',
    help: 'أرسل توقف لإيقاف الرسائل أو ابدأ لاستئنافها.',
  },
  id: {
    optOut:
      'Anda telah berhenti berlangganan dan tidak akan menerima pesan lagi. Balas MULAI untuk berlangganan kembali.',
    optIn: 'Anda berlangganan kembali. Balas BERHENTI kapan saja untuk berhenti berlangganan.',
    help: 'Balas BERHENTI untuk berhenti menerima pesan, atau MULAI untuk menerimanya kembali.',
  },
};

/**
 * The confirmation text: the workspace's text for the keyword's language, else its
 * `default`, else the built-in text of that language, else English.
 */
export function confirmationText(
  kind: ConfirmationKind,
  language: KeywordLanguage | undefined,
  settings?: Pick<ConsentSettings, 'confirmations'>,
): string {
  const own = settings?.confirmations;
  return (
    (language ? own?.[language]?.[kind] : undefined) ??
    own?.default?.[kind] ??
    (language ? CONFIRMATIONS[language][kind] : undefined) ??
    CONFIRMATIONS.en[kind]
  );
}

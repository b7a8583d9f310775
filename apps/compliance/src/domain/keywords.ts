/**
 * Consent keywords: what a customer's whole message means for consent.
 *
 * The WHOLE message is compared, after normalisation, with the keyword sets below, never
 * searched for a keyword: "please stop by the store" or "don't cancel my order" are
 * ordinary messages, and treating them as an opt-out would silence a customer who did
 * not ask for it (as bad, for the business, as ignoring a real STOP).
 */

import { CONSENT_TEXT_MAX_LENGTH } from '@wapi/contracts';

/** What a message means for consent. */
export type ConsentIntent = 'opt_out' | 'opt_in' | 'help' | 'none';

/** Languages with built-in keywords and confirmation texts (BCP 47 primary tags). */
export const KEYWORD_LANGUAGES = ['en', 'es', 'pt', 'fr', 'de', 'hi', 'ar', 'id'] as const;
export type KeywordLanguage = (typeof KEYWORD_LANGUAGES)[number];

type KeywordTable = Record<KeywordLanguage, readonly string[]>;

/**
 * Opt-out keywords. A keyword may be listed in several languages ("stop"); the first
 * language in KEYWORD_LANGUAGES order that lists it is the language of the confirmation.
 */
export const OPT_OUT_KEYWORDS: KeywordTable = {
  en: ['STOP', 'STOPALL', 'STOP ALL', 'UNSUBSCRIBE', 'CANCEL', 'END', 'QUIT', 'OPTOUT', 'OPT OUT', 'REVOKE'],
  es: ['ALTO', 'PARAR', 'DETENER', 'BAJA', 'DARSE DE BAJA', 'CANCELAR', 'DESUSCRIBIR', 'ANULAR', 'NO MÁS'],
  pt: ['PARE', 'SAIR', 'DESCADASTRAR', 'DESINSCREVER', 'CANCELAR INSCRIÇÃO', 'NÃO QUERO MAIS'],
  fr: ['ARRÊT', 'ARRÊTER', 'ARRÊTEZ', 'DÉSABONNER', 'DÉSINSCRIRE', 'SE DÉSABONNER', 'DÉSABONNEMENT'],
  de: ['STOPP', 'ABMELDEN', 'ABBESTELLEN', 'KÜNDIGEN', 'BEENDEN', 'AUSTRAGEN'],
  hi: ['रुको', 'रोको', 'बंद', 'बंद करो', 'सदस्यता रद्द', 'BAND', 'BAND KARO', 'BANDH', 'RUKO', 'ROKO'],
  ar: ['توقف', 'إيقاف', 'إلغاء', 'إلغاء الاشتراك', 'قف'],
  id: ['BERHENTI', 'HENTIKAN', 'BERHENTI BERLANGGANAN', 'BATAL', 'BATALKAN'],
};

/** Opt-in keywords (YES-like words are separate: they count only right after an opt-out). */
export const OPT_IN_KEYWORDS: KeywordTable = {
  en: ['START', 'UNSTOP', 'SUBSCRIBE', 'RESUME', 'OPTIN', 'OPT IN'],
  es: ['ALTA', 'SUSCRIBIR', 'SUSCRIBIRME', 'REANUDAR', 'INICIAR'],
  pt: ['ASSINAR', 'INSCREVER', 'VOLTAR', 'RETOMAR', 'COMEÇAR'],
  fr: ['DÉMARRER', 'ABONNER', 'REPRENDRE', "S'ABONNER"],
  de: ['ANMELDEN', 'ABONNIEREN', 'FORTSETZEN'],
  hi: ['शुरू', 'शुरू करो', 'चालू', 'SHURU', 'SHURU KARO', 'CHALU'],
  ar: ['ابدأ', 'اشتراك', 'استئناف'],
  id: ['MULAI', 'BERLANGGANAN', 'LANJUTKAN'],
};

/** Words that mean opt-in only as the answer to an opt-out confirmation ("Reply YES to…"). */
export const YES_KEYWORDS: KeywordTable = {
  en: ['YES', 'Y'],
  es: ['SÍ'],
  pt: ['SIM'],
  fr: ['OUI'],
  de: ['JA'],
  hi: ['हाँ', 'हां', 'HAAN', 'HAN'],
  ar: ['نعم'],
  id: ['YA'],
};

export const HELP_KEYWORDS: KeywordTable = {
  en: ['HELP', 'INFO'],
  es: ['AYUDA'],
  pt: ['AJUDA'],
  fr: ['AIDE'],
  de: ['HILFE'],
  hi: ['मदद', 'सहायता', 'MADAD'],
  ar: ['مساعدة'],
  id: ['BANTUAN'],
};

/** Keywords a workspace adds to the built-in sets (any language; matched the same way). */
export interface WorkspaceKeywords {
  optOut?: readonly string[];
  optIn?: readonly string[];
  help?: readonly string[];
}

/** What the sender knows about the contact when the message arrives. */
export interface ClassifyContext {
  /**
   * True when the contact's last consent change was an opt-out that this message answers
   * (see `yesCountsAsOptIn` in the ledger): only then does YES / SÍ / OUI … mean opt-in.
   */
  afterOptOut?: boolean;
}

/** A recognised keyword: the intent and the language its confirmation should use. */
export interface KeywordMatch {
  intent: Exclude<ConsentIntent, 'none'>;
  /** The keyword's language, or undefined for a workspace keyword. */
  language: KeywordLanguage | undefined;
}

// Zero-width and invisible formatting characters a keyboard or copy-paste may leave in.
const INVISIBLE = /[\u00AD\u061C\u180E\u200B-\u200F\u202A-\u202E\u2060-\u2064\uFEFF]/g;
// Combining marks: accents on Latin letters, harakat and hamza on Arabic, Devanagari signs.
// Removed from keywords and messages alike, so "ARRÊTER"/"arreter" and "إلغاء"/"الغاء" meet.
const MARKS = /\p{M}/gu;
// Everything but letters and digits, at either end: punctuation, emoji, symbols, spaces.
const EDGES = /^[^\p{L}\p{N}]+|[^\p{L}\p{N}]+$/gu;
// Inside the message, runs of separators are dropped so "OPT OUT", "opt-out" and "optout" meet.
const SEPARATORS = /[\s\p{Pd}_.'’`´·]+/gu;

/**
 * The comparable form of a text: NFKC (full-width and compatibility forms), invisible
 * characters removed, case folded, accents and other combining marks removed, emoji and
 * punctuation trimmed from both ends, inner separators removed. Applied to keywords and
 * messages alike.
 */
export function normalizeConsentText(text: string): string {
  return text
    .normalize('NFKC')
    .replace(INVISIBLE, '')
    .toLowerCase()
    .replace(/ß/g, 'ss')
    .normalize('NFD')
    .replace(MARKS, '')
    .replace(EDGES, '')
    .replace(SEPARATORS, '');
}

type Index = Map<string, KeywordMatch>;

function addTable(index: Index, intent: KeywordMatch['intent'], table: KeywordTable): void {
  for (const language of KEYWORD_LANGUAGES) {
    for (const keyword of table[language]) {
      const key = normalizeConsentText(keyword);
      // First language wins: "stop" confirms in English, "cancelar" in Spanish.
      if (key && !index.has(key)) index.set(key, { intent, language });
    }
  }
}

function buildIndex(): { main: Index; yes: Index } {
  const main: Index = new Map();
  // Opt-out first: a word in both sets must stop, never start.
  addTable(main, 'opt_out', OPT_OUT_KEYWORDS);
  addTable(main, 'opt_in', OPT_IN_KEYWORDS);
  addTable(main, 'help', HELP_KEYWORDS);
  const yes: Index = new Map();
  addTable(yes, 'opt_in', YES_KEYWORDS);
  return { main, yes };
}

const BUILT_IN = buildIndex();

// A normalised message longer than this is never a keyword (the longest one is a few words);
// the cut-off keeps the cost of classifying every inbound text constant. Before normalising,
// contracts' CONSENT_TEXT_MAX_LENGTH bounds the raw text (webhook-ingest sends no longer one).
const MAX_KEYWORD_MESSAGE = 64;

/** The keyword a whole message is, with its language, or undefined. */
export function matchConsentKeyword(
  text: string,
  workspaceKeywords?: WorkspaceKeywords,
  context: ClassifyContext = {},
): KeywordMatch | undefined {
  if (text.length > CONSENT_TEXT_MAX_LENGTH) return undefined;
  const key = normalizeConsentText(text);
  if (!key || key.length > MAX_KEYWORD_MESSAGE) return undefined;
  // Built-in opt-outs win over a workspace's words: no configuration can make STOP not stop.
  const builtIn = BUILT_IN.main.get(key);
  if (builtIn?.intent === 'opt_out') return builtIn;
  if (workspaceKeywords) {
    const lists: [KeywordMatch['intent'], readonly string[] | undefined][] = [
      ['opt_out', workspaceKeywords.optOut],
      ['opt_in', workspaceKeywords.optIn],
      ['help', workspaceKeywords.help],
    ];
    for (const [intent, words] of lists) {
      if (words?.some((word) => normalizeConsentText(word) === key)) return { intent, language: undefined };
    }
  }
  if (builtIn) return builtIn;
  if (context.afterOptOut) return BUILT_IN.yes.get(key);
  return undefined;
}

/**
 * What a customer's whole message means for consent: `'opt_out'`, `'opt_in'`, `'help'` or
 * `'none'` (an ordinary message, including sentences that merely contain a keyword).
 * `workspaceKeywords` adds a workspace's own words; YES-like words count as opt-in only
 * with `context.afterOptOut`.
 */
export function classifyConsentText(
  text: string,
  workspaceKeywords?: WorkspaceKeywords,
  context?: ClassifyContext,
): ConsentIntent {
  return matchConsentKeyword(text, workspaceKeywords, context)?.intent ?? 'none';
}

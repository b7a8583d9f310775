import { describe, expect, it } from 'vitest';
import {
  classifyConsentText,
  HELP_KEYWORDS,
  KEYWORD_LANGUAGES,
  matchConsentKeyword,
  OPT_IN_KEYWORDS,
  OPT_OUT_KEYWORDS,
  YES_KEYWORDS,
} from './keywords';

/** Full-width forms of ASCII letters and digits (what some Asian keyboards type). */
const fullWidth = (s: string) =>
  s.replace(/[!-~]/g, (c) => String.fromCharCode(c.charCodeAt(0) - 0x21 + 0xff01));
/** A zero-width space between every character. */
const zeroWidth = (s: string) => [...s].join('\u200B');
const title = (s: string) => s.charAt(0).toUpperCase() + s.slice(1).toLowerCase();

/** Ways a customer writes one keyword; every one must classify as the keyword does. */
function variants(keyword: string): [string, string][] {
  return [
    ['as listed', keyword],
    ['lower case', keyword.toLowerCase()],
    ['title case', title(keyword)],
    ['spaces around', `   ${keyword.toLowerCase()}  `],
    ['newline and tab', `\n\t${keyword}\n`],
    ['full stop', `${title(keyword)}.`],
    ['exclamation marks', `${keyword}!!!`],
    ['question mark', `${keyword.toLowerCase()}?`],
    ['quoted', `"${keyword}"`],
    ['Spanish punctuation', `¡${keyword}!`],
    ['full-width', fullWidth(keyword)],
    ['zero-width spaces inside', zeroWidth(keyword)],
    ['BOM before', `\uFEFF${keyword}`],
    ['emoji after', `${keyword} 🛑`],
    ['emoji before', `✋🏽 ${keyword.toLowerCase()}`],
    ['emoji both sides', `🙏${keyword}🙏`],
    ['decomposed accents', keyword.normalize('NFD')],
  ];
}

/** Latin keywords also stripped of their accents, as people type on a phone. */
const withoutAccents = (s: string) => s.normalize('NFD').replace(/\p{M}/gu, '');

const tables = [
  ['opt_out', OPT_OUT_KEYWORDS],
  ['opt_in', OPT_IN_KEYWORDS],
  ['help', HELP_KEYWORDS],
] as const;

describe('classifyConsentText: every built-in keyword, language and variant', () => {
  for (const [intent, table] of tables) {
    for (const language of KEYWORD_LANGUAGES) {
      for (const keyword of table[language]) {
        const cases = variants(keyword);
        if (withoutAccents(keyword) !== keyword) cases.push(['accents dropped', withoutAccents(keyword)]);
        it.each(cases)(`${intent} ${language} ${JSON.stringify(keyword)}: %s`, (_, text) => {
          expect(classifyConsentText(text)).toBe(intent);
        });
      }
    }
  }

  it('spells multi-word keywords with a hyphen, an underscore or none at all', () => {
    for (const text of ['opt-out', 'Opt_Out', 'OPT  OUT', 'stop-all', 'opt-in', 'Opt In']) {
      expect(classifyConsentText(text), text).not.toBe('none');
    }
    expect(classifyConsentText('opt-out')).toBe('opt_out');
    expect(classifyConsentText('opt-in')).toBe('opt_in');
  });

  it('gives the language of the keyword, the first listed for shared words', () => {
    expect(matchConsentKeyword('Stop.')).toEqual({ intent: 'opt_out', language: 'en' });
    expect(matchConsentKeyword('cancelar')).toEqual({ intent: 'opt_out', language: 'es' });
    expect(matchConsentKeyword('Arrêter')).toEqual({ intent: 'opt_out', language: 'fr' });
    expect(matchConsentKeyword('रुको')).toEqual({ intent: 'opt_out', language: 'hi' });
    expect(matchConsentKeyword('band karo')).toEqual({ intent: 'opt_out', language: 'hi' });
    expect(matchConsentKeyword('الغاء')).toEqual({ intent: 'opt_out', language: 'ar' });
    expect(matchConsentKeyword('BERHENTI')).toEqual({ intent: 'opt_out', language: 'id' });
    expect(matchConsentKeyword('Abmelden')).toEqual({ intent: 'opt_out', language: 'de' });
    expect(matchConsentKeyword('Sair')).toEqual({ intent: 'opt_out', language: 'pt' });
  });
});

describe('YES-like words', () => {
  for (const language of KEYWORD_LANGUAGES) {
    for (const word of YES_KEYWORDS[language]) {
      it(`${language} ${JSON.stringify(word)} is opt_in right after an opt-out and nothing otherwise`, () => {
        expect(classifyConsentText(word)).toBe('none');
        expect(classifyConsentText(`${word.toLowerCase()}!`, undefined, { afterOptOut: true })).toBe(
          'opt_in',
        );
        expect(classifyConsentText(fullWidth(word), undefined, { afterOptOut: true })).toBe('opt_in');
      });
    }
  }
});

describe('workspace keywords', () => {
  const words = { optOut: ['Basta ya', 'NO MORE'], optIn: ['Count me in'], help: ['Soporte'] };

  it('adds opt-out, opt-in and help words, matched after the same normalisation', () => {
    expect(classifyConsentText('basta ya!', words)).toBe('opt_out');
    expect(classifyConsentText('ＮＯ ＭＯＲＥ', words)).toBe('opt_out');
    expect(classifyConsentText('count me in 🙌', words)).toBe('opt_in');
    expect(classifyConsentText('SOPORTE?', words)).toBe('help');
    expect(matchConsentKeyword('no more', words)).toEqual({ intent: 'opt_out', language: undefined });
    expect(classifyConsentText('no more', undefined)).toBe('none');
  });

  it('can never turn a built-in opt-out into something else', () => {
    expect(classifyConsentText('STOP', { optIn: ['stop'], help: ['stop'] })).toBe('opt_out');
  });
});

// Ordinary messages that contain a keyword (or look like one) and must never change consent.
const HANDWRITTEN_NEGATIVES = [
  'please stop by the store',
  "don't cancel my order",
  'Do not cancel my order please',
  'Can I cancel my appointment for tomorrow?',
  'When does the sale end?',
  'at the end of the day I want the blue one',
  'I want to start a new order',
  'How do I start?',
  'When does the start of the promotion happen',
  'Stop sending me the wrong size, I want a medium',
  'the bus stop near your shop',
  'Which bus stop is closest?',
  'I need help with my order',
  'Can you help me?',
  'help me track my parcel',
  'more info about the red shoes please',
  'Can I get info on delivery times?',
  'I will subscribe to the newsletter later',
  'How do I unsubscribe from the paper catalogue only?',
  'quit joking, when will it arrive',
  'I quit my job so I need a cheaper plan',
  'revoke the old address and use the new one',
  'Yes please',
  'yes I want two',
  'yes, deliver it tomorrow',
  'stop and go traffic delayed me',
  'non-stop music at the party',
  'the end',
  'end of season sale?',
  'Weekend delivery possible?',
  'starting tomorrow I am on holiday',
  'started',
  'stopped',
  'stopping by later',
  'cancelled',
  'cancellation policy?',
  'subscriber discount?',
  'helpful, thanks',
  'information',
  'endless thanks',
  'legend',
  'restart the order',
  'unstoppable deal!',
  'quite good',
  'quitting smoking, need a gift',
  'stop!? really? it arrived broken',
  'STOP the delivery to the old address',
  'please stop',
  'stop please',
  'stop it',
  'just stop',
  'ok stop',
  'STOP STOP STOP the courier is at the wrong door',
  'no',
  'ok',
  'thanks',
  'hello',
  'hi',
  '👍',
  '🛑',
  '...',
  '',
  '12345',
  'stop123',
  'start2',
  // Spanish
  'no cancelar mi pedido',
  'quiero cancelar la reserva del martes',
  'alto de gama',
  'la talla alta por favor',
  'necesito ayuda con mi pedido',
  'dar de alta mi dirección nueva',
  'la baja de precio es hasta cuándo',
  'voy a parar en la tienda',
  'sí, dos unidades',
  'no más de dos por favor',
  // Portuguese
  'quero sair mais cedo do trabalho',
  'pare na loja amanhã',
  'preciso de ajuda com a entrega',
  'vou assinar o contrato amanhã',
  'sim, pode enviar',
  'voltar para a página inicial',
  // French
  "l'arrêt de bus est loin",
  'je voudrais de l’aide pour ma commande',
  'oui je confirme la commande',
  "je vais m'abonner plus tard au magazine",
  'arrêter le colis à la poste',
  // German
  'ich möchte mich für den Kurs anmelden',
  'ja bitte zwei Stück',
  'Hilfe bei der Rücksendung bitte',
  'bitte nicht kündigen',
  'wann beenden Sie den Ausverkauf',
  // Hindi
  'दुकान कब बंद होती है',
  'मुझे मदद चाहिए ऑर्डर के लिए',
  'हाँ दो भेज दो',
  'dukaan kab band hoti hai',
  'shuru kab hoga sale',
  'kal se shuru karo delivery',
  // Arabic
  'متى توقف الحافلة',
  'أحتاج مساعدة في الطلب',
  'نعم أريد اثنين',
  'لا تلغي الطلب',
  // Indonesian
  'bisa berhenti di toko besok',
  'saya butuh bantuan untuk pesanan',
  'ya, kirim dua',
  'jangan batal pesanan saya',
  'mulai kapan promo?',
];

/** Generated sentences: every built-in keyword used inside an ordinary sentence. */
function embedded(): string[] {
  const out: string[] = [];
  const all = [OPT_OUT_KEYWORDS, OPT_IN_KEYWORDS, HELP_KEYWORDS, YES_KEYWORDS];
  for (const table of all) {
    for (const language of KEYWORD_LANGUAGES) {
      for (const keyword of table[language]) {
        out.push(`I read "${keyword.toLowerCase()}" on the box, what does it mean?`);
        out.push(`${keyword} is written on my receipt`);
      }
    }
  }
  return out;
}

describe('ordinary sentences that merely contain keywords', () => {
  const negatives = [...HANDWRITTEN_NEGATIVES, ...embedded()];

  it('has at least 200 of them', () => {
    expect(negatives.length).toBeGreaterThanOrEqual(200);
  });

  it.each(negatives.map((text) => [text]))('%j is not a consent change', (text) => {
    expect(classifyConsentText(text)).not.toMatch(/^opt_/);
    // Nor after an opt-out, where YES-like words count: the whole message must be the word.
    expect(classifyConsentText(text, undefined, { afterOptOut: true })).not.toMatch(/^opt_/);
  });

  it('ignores messages too long to be a keyword without looking at them', () => {
    expect(classifyConsentText(`stop ${'x'.repeat(10_000)}`)).toBe('none');
    expect(classifyConsentText(`${' '.repeat(100)}STOP${' '.repeat(100)}`)).toBe('opt_out');
  });
});

import { describe, expect, it } from 'vitest';
import {
  CONFIRMATIONS,
  confirmationText,
  consentEventId,
  decideScope,
  scopesOf,
  YES_AFTER_OPT_OUT_MS,
  yesCountsAsOptIn,
} from './consent';
import { KEYWORD_LANGUAGES } from './keywords';

const at = (iso: string) => new Date(iso);

describe('decideScope', () => {
  const current = {
    state: 'opted_out' as const,
    observedAt: at('2026-01-02T00:00:00Z'),
    eventId: 'e1',
    changed: true,
  };

  it('treats a contact without a record as opted in', () => {
    expect(
      decideScope(null, { eventId: 'e', state: 'opted_out', observedAt: at('2026-01-01T00:00:00Z') }),
    ).toEqual({
      kind: 'apply',
      changed: true,
    });
    expect(
      decideScope(null, { eventId: 'e', state: 'opted_in', observedAt: at('2026-01-01T00:00:00Z') }),
    ).toEqual({
      kind: 'apply',
      changed: false,
    });
  });

  it('recognises a redelivery and reports what it did the first time', () => {
    expect(
      decideScope(current, { eventId: 'e1', state: 'opted_out', observedAt: current.observedAt }),
    ).toEqual({
      kind: 'already_applied',
      changed: true,
    });
  });

  it('records a repeated opt-out as no change, and an older event as superseded', () => {
    expect(
      decideScope(current, { eventId: 'e2', state: 'opted_out', observedAt: at('2026-01-03T00:00:00Z') }),
    ).toEqual({
      kind: 'apply',
      changed: false,
    });
    expect(
      decideScope(current, { eventId: 'e0', state: 'opted_in', observedAt: at('2026-01-01T00:00:00Z') }),
    ).toEqual({
      kind: 'superseded',
    });
  });
});

describe('consent rules', () => {
  it('lifts both scopes on an opt-in of everything and touches one scope otherwise', () => {
    expect(scopesOf('opt_in', 'all')).toEqual(['all', 'marketing']);
    expect(scopesOf('opt_out', 'all')).toEqual(['all']);
    expect(scopesOf('opt_out', 'marketing')).toEqual(['marketing']);
  });

  it('gives a redelivered signal the same event id, and a different message another', () => {
    const base = {
      workspaceId: 'ws',
      contact: '15550001',
      signal: 'opt_out' as const,
      scope: 'all' as const,
      source: 'keyword' as const,
      reference: 'wamid.1',
      observedAt: '2026-01-01T00:00:00Z',
    };
    expect(consentEventId(base)).toBe(consentEventId({ ...base, observedAt: '2026-01-01T00:00:05Z' }));
    expect(consentEventId(base)).not.toBe(consentEventId({ ...base, reference: 'wamid.2' }));
    expect(consentEventId({ ...base, reference: undefined })).not.toBe(
      consentEventId({ ...base, reference: undefined, observedAt: '2026-01-01T00:00:05Z' }),
    );
  });

  it('takes YES as opt-in only within the window after an opt-out', () => {
    const out = {
      state: 'opted_out' as const,
      observedAt: at('2026-01-01T00:00:00Z'),
      eventId: 'e',
      changed: true,
    };
    expect(yesCountsAsOptIn(out, new Date(out.observedAt.getTime() + YES_AFTER_OPT_OUT_MS))).toBe(true);
    expect(yesCountsAsOptIn(out, new Date(out.observedAt.getTime() + YES_AFTER_OPT_OUT_MS + 1))).toBe(false);
    expect(yesCountsAsOptIn({ ...out, state: 'opted_in' }, out.observedAt)).toBe(false);
    expect(yesCountsAsOptIn(null, out.observedAt)).toBe(false);
  });

  it('picks the workspace text for the language, then its default, then the built-in one', () => {
    const settings = {
      confirmations: { es: { optOut: 'Vale.' }, default: { optOut: 'OK.', help: 'Help!' } },
    };
    expect(confirmationText('optOut', 'es', settings)).toBe('Vale.');
    expect(confirmationText('optOut', 'fr', settings)).toBe('OK.');
    expect(confirmationText('optIn', 'fr', settings)).toBe(CONFIRMATIONS.fr.optIn);
    expect(confirmationText('optIn', undefined)).toBe(CONFIRMATIONS.en.optIn);
    for (const language of KEYWORD_LANGUAGES) {
      for (const kind of ['optOut', 'optIn', 'help'] as const)
        expect(CONFIRMATIONS[language][kind].length).toBeGreaterThan(10);
    }
  });
});

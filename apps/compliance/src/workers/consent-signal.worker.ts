import type { ConsentSignalV1 } from '@wapi/contracts';
import { asWorkspaceId } from '@wapi/store';
import { UnrecoverableError } from 'bullmq';
import type { ConsentLedger } from '../data/consent-ledger';
import { consentEventId, yesCountsAsOptIn } from '../domain/consent';
import { matchConsentKeyword } from '../domain/keywords';

const META_ACTOR = { type: 'service', id: 'meta' } as const;

/**
 * `consent.signal.v1`: keyword texts are classified here (with the workspace's own words and
 * the contact's state, which YES needs); Meta's signals and API changes are applied as they
 * come. Re-delivering a job is a no-op (the event id is derived from the signal).
 */
export function consentSignalProcessor(ledger: ConsentLedger) {
  return async (signal: ConsentSignalV1): Promise<void> => {
    let ws: ReturnType<typeof asWorkspaceId>;
    try {
      ws = asWorkspaceId(signal.workspaceId);
    } catch (error) {
      throw new UnrecoverableError((error as Error).message);
    }
    const observedAt = new Date(signal.observedAt);
    let kind: 'opt_out' | 'opt_in';
    let scope = signal.scope;
    let language: Parameters<typeof ledger.replyHelp>[3];
    if (signal.signal === 'inbound_text') {
      const text = signal.evidence.text ?? '';
      const keywords = (await ledger.settingsOf(ws))?.keywords;
      let match = matchConsentKeyword(text, keywords);
      // A YES-like word counts only right after an opt-out: read the contact's state only
      // for those few messages, never for ordinary ones.
      if (!match && matchConsentKeyword(text, keywords, { afterOptOut: true })) {
        const all = await ledger.scopeState(ws, signal.contact, 'all');
        if (yesCountsAsOptIn(all, observedAt))
          match = matchConsentKeyword(text, keywords, { afterOptOut: true });
      }
      if (!match) return;
      if (match.intent === 'help') {
        if (signal.phoneNumberId && signal.evidence.wamid) {
          await ledger.replyHelp(
            ws,
            signal.contact,
            signal.phoneNumberId,
            match.language,
            signal.evidence.wamid,
          );
        }
        return;
      }
      kind = match.intent;
      // A keyword stops (or restarts) everything; Meta's own signals are marketing-only.
      scope = 'all';
      language = match.language;
    } else {
      kind = signal.signal;
    }
    const source = signal.signal === 'inbound_text' ? 'keyword' : signal.source;
    const eventId = consentEventId({
      workspaceId: ws,
      contact: signal.contact,
      signal: kind,
      scope,
      source,
      reference: signal.evidence.wamid,
      observedAt: signal.observedAt,
    });
    const customerInitiated = source === 'keyword' || source === 'stop_promotions_button';
    await ledger.apply({
      workspaceId: ws,
      eventId,
      contact: signal.contact,
      signal: kind,
      scope,
      source,
      evidence: {
        ...(signal.evidence.wamid !== undefined ? { wamid: signal.evidence.wamid } : {}),
        ...(signal.evidence.text !== undefined ? { text: signal.evidence.text } : {}),
      },
      observedAt,
      actor: customerInitiated || source === 'api' ? { type: 'contact', id: signal.contact } : META_ACTOR,
      confirmFrom: customerInitiated ? signal.phoneNumberId : undefined,
      language,
    });
  };
}

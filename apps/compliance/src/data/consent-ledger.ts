import {
  checkSuppression,
  MAX_CHECK_CONTACTS,
  markSuppressionReady,
  publishSuppression,
  type SuppressionEntry,
} from '@wapi/consent';
import type {
  ConsentScope,
  ConsentSettings,
  ConsentSource,
  ConsentState,
  ContactConsentResponse,
} from '@wapi/contracts';
import { jobIdOf, type Producer } from '@wapi/service-kit';
import {
  globalRepository,
  type IndexSpec,
  type TenantDocument,
  tenantRepository,
  type WorkspaceId,
} from '@wapi/store';
import type { Redis } from 'ioredis';
import type { Db } from 'mongodb';
import type { Logger } from 'pino';
import {
  type ConfirmationKind,
  type ConsentSignalKind,
  confirmationText,
  decideScope,
  type ScopeDecision,
  type ScopeState,
  scopesOf,
  stateOf,
} from '../domain/consent';
import type { KeywordLanguage } from '../domain/keywords';

/** Current consent of one contact in one scope (small: one document per opted-out/in contact). */
export interface ConsentStateDoc extends TenantDocument {
  _id: string;
  contact: string;
  scope: ConsentScope;
  state: ConsentState;
  observedAt: Date;
  /** The event that set this state: a redelivery of it is recognised, and writes are conditional on it. */
  eventId: string;
  /** Whether that event changed the state (so a redelivery knows whether to confirm). */
  changed: boolean;
  source: ConsentSource;
  /** Set once the confirmation of `eventId` was queued. */
  confirmed?: boolean;
  updatedAt: Date;
}

/** One event in a contact's consent history; append-only, kept as long as the workspace. */
export interface ConsentHistoryDoc extends TenantDocument {
  _id: string;
  eventId: string;
  contact: string;
  scope: ConsentScope;
  signal: ConsentSignalKind;
  source: ConsentSource;
  effect: 'changed' | 'unchanged' | 'superseded';
  evidence: { wamid?: string; text?: string; actor?: string; note?: string };
  observedAt: Date;
  recordedAt: Date;
}

/** A workspace's own keywords and confirmation texts. */
export interface ConsentSettingsDoc extends TenantDocument, ConsentSettings {
  _id: string;
  updatedAt: Date;
}

export const CONSENT_INDEXES: IndexSpec[] = [
  {
    collection: 'consent_state',
    name: 'workspace_contact',
    key: { workspaceId: 1, contact: 1 },
    serves: "a contact's current states (GET /internal/v1/consent/:workspaceId/:contact)",
  },
  {
    collection: 'consent_history',
    name: 'workspace_contact_observed',
    key: { workspaceId: 1, contact: 1, observedAt: 1 },
    serves: "a contact's history, oldest first (GET /internal/v1/consent/:workspaceId/:contact)",
  },
];

/** One consent event, whatever its source (queue or HTTP). */
export interface ConsentEvent {
  workspaceId: WorkspaceId;
  eventId: string;
  contact: string;
  signal: ConsentSignalKind;
  scope: ConsentScope;
  source: ConsentSource;
  evidence: ConsentHistoryDoc['evidence'];
  observedAt: Date;
  /** Who did it, for the audit log. */
  actor: { type: string; id: string };
  /** Send a confirmation from this number when the state changed (customer-initiated events). */
  confirmFrom?: string | undefined;
  /** The keyword's language, for the confirmation text. */
  language?: KeywordLanguage | undefined;
}

export interface ApplyResult {
  changed: boolean;
  states: { scope: ConsentScope; state: ConsentState }[];
  /** Whether a confirmation was queued by this call (false on a redelivery that found it queued). */
  confirmationQueued: boolean;
}

export interface ConsentLedgerDeps {
  db: Db;
  /** A `request`-role connection (publishing and checking the suppression list). */
  redis: Redis;
  prefix: string;
  sends: Producer<'message.send.v1'>;
  audit: Producer<'audit.v1'>;
  log: Logger;
  now?: () => Date;
}

const stateId = (ws: string, contact: string, scope: ConsentScope) => `${ws}:${contact}:${scope}`;
const SETTINGS_TTL_MS = 10_000;

/**
 * The consent ledger: the truth about who may be messaged. State changes are conditional
 * writes on the event that set the current state (optimistic concurrency: FerretDB has no
 * transactions), history is appended with the event id as key (a redelivery inserts
 * nothing), and every change is published to the Redis suppression list and audited.
 */
export function createConsentLedger(deps: ConsentLedgerDeps) {
  const { redis, prefix, log } = deps;
  const now = deps.now ?? (() => new Date());
  const states = tenantRepository<ConsentStateDoc>(deps.db, 'consent_state');
  const history = tenantRepository<ConsentHistoryDoc>(deps.db, 'consent_history');
  const settings = tenantRepository<ConsentSettingsDoc>(deps.db, 'consent_settings');
  const settingsCache = new Map<string, { value: ConsentSettings | undefined; until: number }>();

  async function settingsOf(ws: WorkspaceId): Promise<ConsentSettings | undefined> {
    const cached = settingsCache.get(ws);
    if (cached && cached.until > Date.now()) return cached.value;
    const doc = await settings.findOne(ws, { _id: ws });
    const value = doc ? { keywords: doc.keywords, confirmations: doc.confirmations } : undefined;
    settingsCache.set(ws, { value, until: Date.now() + SETTINGS_TTL_MS });
    return value;
  }

  async function scopeState(
    ws: WorkspaceId,
    contact: string,
    scope: ConsentScope,
  ): Promise<ScopeState | null> {
    return states.findOne(ws, { _id: stateId(ws, contact, scope) });
  }

  /** Applies the event to one scope; retries when another instance wrote in between. */
  async function applyToScope(event: ConsentEvent, scope: ConsentScope): Promise<ScopeDecision> {
    const ws = event.workspaceId;
    const _id = stateId(ws, event.contact, scope);
    const state = stateOf(event.signal);
    for (let attempt = 0; attempt < 10; attempt += 1) {
      const current = await states.findOne(ws, { _id });
      const decision = decideScope(current, { eventId: event.eventId, state, observedAt: event.observedAt });
      if (decision.kind !== 'apply') return decision;
      const fields = {
        contact: event.contact,
        scope,
        state,
        observedAt: event.observedAt,
        eventId: event.eventId,
        changed: decision.changed,
        source: event.source,
        confirmed: false,
        updatedAt: now(),
      };
      if (!current) {
        if (await states.insertOnce(ws, { _id, ...fields })) return decision;
      } else {
        // Conditional on the event we read: if another instance applied one meanwhile, read again.
        const written = await states.updateOne(ws, { _id, eventId: current.eventId }, { $set: fields });
        if (written.matched === 1) return decision;
      }
    }
    throw new Error(
      `consent state of ${_id} kept changing while applying ${event.eventId}; the job is retried`,
    );
  }

  /** Publishes one contact's current flags (both scopes) to Redis. */
  async function publishContact(ws: WorkspaceId, contact: string): Promise<void> {
    const docs = await states.find(ws, { contact });
    await publishSuppression(redis, prefix, ws, [entryOf(contact, docs)]);
  }

  function entryOf(contact: string, docs: readonly ConsentStateDoc[]): SuppressionEntry {
    const flags = { all: false, marketing: false };
    let version = 0;
    for (const doc of docs) {
      if (doc.state === 'opted_out') flags[doc.scope] = true;
      version = Math.max(version, doc.observedAt.getTime());
    }
    return { contact, flags, version };
  }

  async function queueReply(
    ws: WorkspaceId,
    to: string,
    from: string,
    kind: ConfirmationKind,
    language: KeywordLanguage | undefined,
    messageId: string,
  ): Promise<void> {
    const body = confirmationText(kind, language, await settingsOf(ws));
    await deps.sends.add(
      {
        workspaceId: ws,
        messageId,
        phoneNumberId: from,
        to,
        // A reply inside the window the customer's own message just opened.
        category: 'service',
        content: { type: 'text', text: { body } },
        purpose: 'consent_confirmation',
        acceptedAt: now().toISOString(),
      },
      // The same event can never queue two confirmations (hot dedupe; `confirmed` is the truth).
      { jobId: jobIdOf(ws, messageId) },
    );
  }

  let rebuilding: Promise<{ contacts: number; workspaces: number }> | undefined;

  return {
    settingsOf,
    scopeState,

    /** Applies one consent event. Idempotent: applying the same event again changes nothing. */
    async apply(event: ConsentEvent): Promise<ApplyResult> {
      const ws = event.workspaceId;
      const scopes = scopesOf(event.signal, event.scope);
      let changed = false;
      const decisions: [ConsentScope, ScopeDecision][] = [];
      for (const scope of scopes) {
        const decision = await applyToScope(event, scope);
        decisions.push([scope, decision]);
        if (decision.kind !== 'superseded' && decision.changed) changed = true;
      }
      const recordedAt = now();
      await history.insertMany(
        ws,
        decisions.map(([scope, decision]) => ({
          _id: `${ws}:${event.eventId}:${scope}`,
          eventId: event.eventId,
          contact: event.contact,
          scope,
          signal: event.signal,
          source: event.source,
          effect:
            decision.kind === 'superseded'
              ? ('superseded' as const)
              : decision.changed
                ? ('changed' as const)
                : ('unchanged' as const),
          evidence: event.evidence,
          observedAt: event.observedAt,
          recordedAt,
        })),
        { ignoreDuplicates: true },
      );
      await publishContact(ws, event.contact);
      let confirmationQueued = false;
      if (changed) {
        const first = stateId(ws, event.contact, scopes[0] as ConsentScope);
        const current = await states.findOne(ws, { _id: first });
        const alreadyConfirmed = current?.eventId === event.eventId && current.confirmed === true;
        if (event.confirmFrom && !alreadyConfirmed) {
          const kind = event.signal === 'opt_out' ? 'optOut' : 'optIn';
          await queueReply(
            ws,
            event.contact,
            event.confirmFrom,
            kind,
            event.language,
            `consent_${event.eventId}`,
          );
          await states.updateOne(ws, { _id: first, eventId: event.eventId }, { $set: { confirmed: true } });
          confirmationQueued = true;
        }
        await deps.audit.add(
          {
            workspaceId: ws,
            actor: event.actor,
            action: event.signal === 'opt_out' ? 'consent.opted_out' : 'consent.opted_in',
            target: { type: 'contact', id: event.contact },
            at: event.observedAt.toISOString(),
            outcome: 'success',
            before: { state: event.signal === 'opt_out' ? 'opted_in' : 'opted_out' },
            after: { state: stateOf(event.signal), scope: event.scope, source: event.source },
            ...(event.evidence.wamid ? { data: { wamid: event.evidence.wamid } } : {}),
          },
          { jobId: jobIdOf('consent', ws, event.eventId) },
        );
      }
      log.info(
        { workspaceId: ws, eventId: event.eventId, signal: event.signal, scope: event.scope, changed },
        'consent event applied',
      );
      const docs = await states.find(ws, { contact: event.contact });
      return {
        changed,
        states: docs.map((d) => ({ scope: d.scope, state: d.state })),
        confirmationQueued,
      };
    },

    /** Answers a HELP keyword with the workspace's (or built-in) help text, once per message. */
    async replyHelp(
      ws: WorkspaceId,
      contact: string,
      from: string,
      language: KeywordLanguage | undefined,
      replyKey: string,
    ) {
      await queueReply(ws, contact, from, 'help', language, `help_${replyKey}`);
    },

    async contactConsent(ws: WorkspaceId, contact: string): Promise<ContactConsentResponse> {
      const current = await states.find(ws, { contact });
      const events = await history.find(
        ws,
        { contact },
        { sort: { observedAt: 1, recordedAt: 1 }, limit: 1_000 },
      );
      return {
        contact,
        states: current.map((d) => ({
          scope: d.scope,
          state: d.state,
          since: d.observedAt.toISOString(),
          source: d.source,
        })),
        history: events.map((h) => ({
          eventId: h.eventId,
          scope: h.scope,
          signal: h.signal,
          source: h.source,
          effect: h.effect,
          evidence: h.evidence,
          observedAt: h.observedAt.toISOString(),
          recordedAt: h.recordedAt.toISOString(),
        })),
      };
    },

    async saveSettings(ws: WorkspaceId, value: ConsentSettings): Promise<void> {
      await settings.updateOne(
        ws,
        { _id: ws },
        { $set: { keywords: value.keywords, confirmations: value.confirmations, updatedAt: now() } },
        { upsert: true },
      );
      settingsCache.delete(ws);
    },

    /**
     * Rebuilds the Redis suppression list from the ledger (at start-up, on demand, and when a
     * check finds it incomplete), then marks it ready. One run at a time per instance.
     */
    rebuildSuppression(): Promise<{ contacts: number; workspaces: number }> {
      rebuilding ??= (async () => {
        try {
          // Cross-tenant on purpose: this reads compliance's own collection to refill its own
          // cache for every workspace; nothing of it leaves the service.
          const all = await globalRepository<ConsentStateDoc>(deps.db, 'consent_state').find({});
          const byWorkspace = new Map<string, Map<string, ConsentStateDoc[]>>();
          for (const doc of all) {
            const contacts = byWorkspace.get(doc.workspaceId) ?? new Map<string, ConsentStateDoc[]>();
            byWorkspace.set(doc.workspaceId, contacts);
            contacts.set(doc.contact, [...(contacts.get(doc.contact) ?? []), doc]);
          }
          let contacts = 0;
          for (const [ws, byContact] of byWorkspace) {
            const entries = [...byContact].map(([contact, docs]) => entryOf(contact, docs));
            for (let i = 0; i < entries.length; i += 500) {
              await publishSuppression(redis, prefix, ws, entries.slice(i, i + 500));
            }
            contacts += entries.length;
          }
          await markSuppressionReady(redis, prefix);
          log.info({ contacts, workspaces: byWorkspace.size }, 'suppression list rebuilt');
          return { contacts, workspaces: byWorkspace.size };
        } finally {
          rebuilding = undefined;
        }
      })();
      return rebuilding;
    },

    /** Checks a batch against Redis, rebuilding it first when it is not known to be complete. */
    async check(
      ws: WorkspaceId,
      contacts: readonly string[],
      category: Parameters<typeof checkSuppression>[1]['category'],
    ) {
      if (contacts.length > MAX_CHECK_CONTACTS) throw new RangeError('too many contacts');
      let result = await checkSuppression(redis, { prefix, workspaceId: ws, contacts, category });
      if (!result.ready) {
        await this.rebuildSuppression();
        result = await checkSuppression(redis, { prefix, workspaceId: ws, contacts, category });
      }
      return result.suppressed;
    },
  };
}

export type ConsentLedger = ReturnType<typeof createConsentLedger>;

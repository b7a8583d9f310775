import {
  ConsentChangeRequest,
  ConsentChangeResponse,
  ConsentSettings,
  ContactConsentResponse,
  ContactParams,
  ErrorResponse,
  OkResponse,
  SuppressionCheckRequest,
  SuppressionCheckResponse,
  SuppressionRebuildResponse,
  WorkspaceParams,
} from '@wapi/contracts';
import { registerInternal, type ServiceApp } from '@wapi/service-kit';
import { asWorkspaceId } from '@wapi/store';
import type { ConsentLedger } from '../data/consent-ledger';
import { consentEventId } from '../domain/consent';

const errors = { 400: ErrorResponse, 401: ErrorResponse, 500: ErrorResponse, 503: ErrorResponse };

/**
 * Consent and suppression over internal HTTP (callers: gateway, webhook-ingest,
 * message-sender; `request.caller` is the authenticated service).
 */
export function registerConsentRoutes(service: ServiceApp, ledger: ConsentLedger, now: () => Date): void {
  registerInternal(
    service,
    async (app) => {
      app.post(
        '/v1/consent/changes',
        { schema: { body: ConsentChangeRequest, response: { 200: ConsentChangeResponse, ...errors } } },
        async (request) => {
          const body = request.body;
          const ws = asWorkspaceId(body.workspaceId);
          const observedAt = body.observedAt ?? now().toISOString();
          const eventId = consentEventId({
            workspaceId: ws,
            contact: body.contact,
            signal: body.signal,
            scope: body.scope,
            source: body.source,
            reference: `api:${body.idempotencyKey}`,
            observedAt,
          });
          const result = await ledger.apply({
            workspaceId: ws,
            eventId,
            contact: body.contact,
            signal: body.signal,
            scope: body.scope,
            source: body.source,
            evidence: {
              actor: `${body.actor.type}:${body.actor.id} via ${request.caller}`,
              ...(body.note !== undefined ? { note: body.note } : {}),
            },
            observedAt: new Date(observedAt),
            actor: body.actor,
          });
          return { eventId, changed: result.changed, states: result.states };
        },
      );

      app.get(
        '/v1/consent/:workspaceId/:contact',
        { schema: { params: ContactParams, response: { 200: ContactConsentResponse, ...errors } } },
        async (request) =>
          ledger.contactConsent(asWorkspaceId(request.params.workspaceId), request.params.contact),
      );

      app.put(
        '/v1/consent/:workspaceId/settings',
        {
          schema: {
            params: WorkspaceParams,
            body: ConsentSettings,
            response: { 200: OkResponse, ...errors },
          },
        },
        async (request) => {
          await ledger.saveSettings(asWorkspaceId(request.params.workspaceId), request.body);
          return { ok: true as const };
        },
      );

      app.post(
        '/v1/suppression/check',
        { schema: { body: SuppressionCheckRequest, response: { 200: SuppressionCheckResponse, ...errors } } },
        async (request) => {
          const { workspaceId, contacts, category } = request.body;
          const suppressed = await ledger.check(asWorkspaceId(workspaceId), contacts, category);
          return {
            suppressed: contacts.map((contact, i) => ({ contact, suppressed: suppressed[i] === true })),
          };
        },
      );

      app.post(
        '/v1/suppression/rebuild',
        { schema: { response: { 200: SuppressionRebuildResponse, ...errors } } },
        async () => ledger.rebuildSuppression(),
      );
    },
    { auth: service.internalAuth! },
  );
}

import { timingSafeEqual } from 'node:crypto';
import { type TSchema, Type } from '@sinclair/typebox';
import {
  AppError,
  ErrorResponse,
  SandboxAccountUpdateRequest,
  SandboxAppFieldsRequest,
  SandboxAppView,
  SandboxAppWebhookRequest,
  SandboxCapabilityUpdateRequest,
  SandboxCustomerView,
  SandboxFaults,
  SandboxFaultsView,
  SandboxInboundRecords,
  SandboxInboundRequest,
  SandboxInboundResponse,
  SandboxMarketingPreference,
  SandboxOAuthCodeRequest,
  SandboxOAuthCodeResponse,
  SandboxPhoneNumberCreated,
  SandboxPhoneNumberQualityRequest,
  SandboxPhoneNumberQualityResponse,
  SandboxPhoneNumberRequest,
  SandboxResetResponse,
  SandboxRevoked,
  SandboxSeed,
  SandboxSeedApp,
  SandboxSeedCustomer,
  SandboxSeedToken,
  SandboxSeedWaba,
  SandboxSentMessages,
  SandboxTemplateQualityRequest,
  SandboxTemplateQualityResponse,
  SandboxTemplateStatusRequest,
  SandboxTemplateStatusResponse,
  SandboxTimings,
  SandboxTimingsView,
  SandboxTokenView,
  SandboxUserPreferencesRequest,
  SandboxWabaCreated,
  SandboxWabaEventResponse,
  SandboxWebhooks,
  SandboxWorldResponse,
} from '@wapi/contracts';
import type { ServiceApp } from '@wapi/service-kit';
import {
  appView,
  checkAppCallback,
  issueOAuthCode,
  revokeToken,
  setAppCallback,
  setAppFields,
} from '../domain/access';
import { setMarketingPreference, updateCustomer } from '../domain/customers';
import type { FaultSwitch } from '../domain/faults';
import { receiveInbound } from '../domain/inbound-intake';
import { sendAccountUpdate, sendCapabilityUpdate, setPhoneNumberQuality } from '../domain/number-health';
import type { CallbackVerifier, Clock, WebhookSink } from '../domain/ports';
import { addApp, addPhoneNumber, addToken, addWaba, applySeed } from '../domain/seed';
import type { StatusProgression } from '../domain/status-progression';
import { setTemplateQuality, setTemplateStatus } from '../domain/templates';
import type { World } from '../domain/world';
import { verifySeedCallbacks } from '../webhooks/app-callback';
import type { DeliveryEngine } from '../webhooks/delivery-engine';
import { requestBase } from './base-url';

/** Constant-time bearer check for the control API (never Meta's tokens). */
export function adminGuard(adminToken: string) {
  const expected = Buffer.from(adminToken);
  return async (request: { headers: Record<string, unknown> }) => {
    const header = request.headers.authorization;
    if (typeof header !== 'string' || !header.startsWith('Bearer '))
      throw new AppError(
        'INTERNAL_AUTH_REQUIRED',
        'The sandbox control API requires Authorization: Bearer <SANDBOX_ADMIN_TOKEN>.',
      );
    const given = Buffer.from(header.slice(7));
    if (given.length !== expected.length || !timingSafeEqual(given, expected))
      throw new AppError('INTERNAL_AUTH_INVALID', 'The sandbox admin token is not valid.');
  };
}

/** Answer schemas of a control route: its 200 shape and wapi's error envelope (serialisation, OpenAPI). */
const ok = <T extends TSchema>(schema: T) => ({ 200: schema, '4xx': ErrorResponse, '5xx': ErrorResponse });

const IdParams = Type.Object({ id: Type.String({ pattern: '^[0-9]{1,20}$' }) });

/** What the control routes use: the world and the collaborators its changes go through. */
export interface ControlDeps {
  world: World;
  clock: Clock;
  webhooks: WebhookSink;
  /** Verifies callback URLs (§3.1) and shows what the delivery engine sent. */
  engine: CallbackVerifier & Pick<DeliveryEngine, 'stats' | 'idle' | 'recent'>;
  progression: StatusProgression;
  faults: FaultSwitch;
  adminToken: string;
  /** SANDBOX_PUBLIC_URL (media links of inbound media); empty: the request's host. */
  publicUrl: string;
  /** SANDBOX_THROUGHPUT_MPS: default throughput of new numbers (§5.1). */
  standardMps: number;
  /** Empties the world and forgets everything in progress. */
  reset(): void;
}

/**
 * The simulated world under `/_sandbox/…` (never on Meta's paths), with its own admin token.
 * Answers wapi's error envelope.
 */
export async function controlRoutes(app: ServiceApp, deps: ControlDeps): Promise<void> {
  const { world, clock } = deps;
  const defaults = { throughputMps: deps.standardMps };
  app.addHook('onRequest', adminGuard(deps.adminToken));

  app.post(
    '/world',
    { schema: { body: SandboxSeed, response: ok(SandboxWorldResponse) } },
    async (request) => {
      const seed = request.body;
      // §3.1: every callback URL passes the handshake before anything of the seed is applied.
      const refusal = await verifySeedCallbacks(deps.engine, seed.apps ?? []);
      if (refusal) throw new AppError('VALIDATION_FAILED', refusal);
      const created = applySeed(world, seed, clock.now(), defaults);
      return {
        apps: created.apps.map(appView),
        wabas: created.wabas.map((w) => ({
          id: w.id,
          name: w.name,
          businessId: w.businessId,
          phoneNumbers: [...world.numbers.values()]
            .filter((n) => n.wabaId === w.id)
            .map((n) => ({ id: n.id, display: n.display })),
        })),
        tokens: created.tokens.map((t) => ({
          value: t.value,
          appId: t.appId,
          kind: t.kind,
          wabaIds: t.wabaIds,
        })),
        customers: created.customers,
        templates: created.templates.map((t) => ({
          id: t.id,
          name: t.name,
          language: t.language,
          status: t.status,
        })),
      };
    },
  );

  app.post('/apps', { schema: { body: SandboxSeedApp, response: ok(SandboxAppView) } }, async (request) => {
    const body = request.body;
    if (body.callbackUrl !== undefined)
      await checkAppCallback(deps.engine, `app ${body.id ?? '(new)'}`, body.callbackUrl, body.verifyToken);
    return appView(addApp(world, body));
  });

  // §3.1: change an app's callback URL / verify token; verified like the App Dashboard does.
  app.put(
    '/apps/:id/webhook',
    { schema: { params: IdParams, body: SandboxAppWebhookRequest, response: ok(SandboxAppView) } },
    async (request) =>
      appView(await setAppCallback({ world, verifier: deps.engine }, request.params.id, request.body)),
  );

  // §3.7: which webhook fields an app receives (as if ticked in the App Dashboard).
  app.put(
    '/apps/:id/fields',
    { schema: { params: IdParams, body: SandboxAppFieldsRequest, response: ok(SandboxAppView) } },
    async (request) => appView(setAppFields(world, request.params.id, request.body)),
  );

  app.post(
    '/wabas',
    { schema: { body: SandboxSeedWaba, response: ok(SandboxWabaCreated) } },
    async (request) => {
      const waba = addWaba(world, request.body, defaults);
      return { id: waba.id, name: waba.name, businessId: waba.businessId };
    },
  );

  app.post(
    '/phone-numbers',
    { schema: { body: SandboxPhoneNumberRequest, response: ok(SandboxPhoneNumberCreated) } },
    async (request) => {
      const number = addPhoneNumber(world, request.body.wabaId, request.body, defaults);
      return { id: number.id, wabaId: number.wabaId, display: number.display, registered: number.registered };
    },
  );

  // §3.7, §5.1, §5.3, §8.5: Meta re-rates a number; `phone_number_quality_update` follows.
  app.post(
    '/phone-numbers/:id/quality',
    {
      schema: {
        params: IdParams,
        body: SandboxPhoneNumberQualityRequest,
        response: ok(SandboxPhoneNumberQualityResponse),
      },
    },
    async (request) => setPhoneNumberQuality(deps, request.params.id, request.body),
  );

  // §3.7: an `account_update` for a WABA (a ban, a violation, a partner added…).
  app.post(
    '/wabas/:id/account-update',
    {
      schema: { params: IdParams, body: SandboxAccountUpdateRequest, response: ok(SandboxWabaEventResponse) },
    },
    async (request) => sendAccountUpdate(deps, request.params.id, request.body),
  );

  // §3.7, §5.3: a `business_capability_update` (the portfolio's messaging limit, number caps).
  app.post(
    '/wabas/:id/capability',
    {
      schema: {
        params: IdParams,
        body: SandboxCapabilityUpdateRequest,
        response: ok(SandboxWabaEventResponse),
      },
    },
    async (request) => sendCapabilityUpdate(deps, request.params.id, request.body),
  );

  app.post(
    '/tokens',
    { schema: { body: SandboxSeedToken, response: ok(SandboxTokenView) } },
    async (request) => {
      const token = addToken(world, request.body, clock.now());
      return { value: token.value, appId: token.appId, kind: token.kind, wabaIds: token.wabaIds };
    },
  );

  app.post(
    '/tokens/:value/revoke',
    { schema: { params: Type.Object({ value: Type.String() }), response: ok(SandboxRevoked) } },
    async (request) => revokeToken(world, request.params.value),
  );

  // Embedded Signup: what FB.login hands the front end (§8.1 step 2); valid 30 s.
  app.post(
    '/oauth-codes',
    { schema: { body: SandboxOAuthCodeRequest, response: ok(SandboxOAuthCodeResponse) } },
    async (request) => issueOAuthCode(world, clock.now(), request.body),
  );

  app.put(
    '/customers/:waId',
    {
      schema: {
        body: Type.Omit(SandboxSeedCustomer, ['waId']),
        params: Type.Object({ waId: Type.String({ pattern: '^[0-9]{6,15}$' }) }),
        response: ok(SandboxCustomerView),
      },
    },
    async (request) => updateCustomer(deps, request.params.waId, request.body),
  );

  // A customer sends messages (§3.4); each opens/refreshes the service window (§6).
  app.post(
    '/inbound',
    { schema: { body: SandboxInboundRequest, response: ok(SandboxInboundResponse) } },
    async (request) => receiveInbound(deps, request.body, deps.publicUrl || requestBase(request)),
  );

  // §9: the user stops/resumes marketing; a `user_preferences` webhook follows.
  app.post(
    '/user-preferences',
    {
      schema: { body: SandboxUserPreferencesRequest, response: ok(SandboxMarketingPreference) },
    },
    async (request) => setMarketingPreference(deps, request.body),
  );

  // Moves a template to any status (pause, disable, approve…) with its status webhook (§7.4).
  app.post(
    '/templates/:id/status',
    {
      schema: {
        params: Type.Object({ id: Type.String() }),
        body: SandboxTemplateStatusRequest,
        response: ok(SandboxTemplateStatusResponse),
      },
    },
    async (request) => setTemplateStatus(deps, request.params.id, request.body),
  );

  // §3.7 / §7.4: the template's quality score moves; `message_template_quality_update` follows.
  app.post(
    '/templates/:id/quality',
    {
      schema: {
        params: Type.Object({ id: Type.String() }),
        body: SandboxTemplateQualityRequest,
        response: ok(SandboxTemplateQualityResponse),
      },
    },
    async (request) => setTemplateQuality(deps, request.params.id, request.body),
  );

  // Everything the platform sent, with the statuses the simulated users produced.
  app.get(
    '/messages',
    {
      schema: {
        querystring: Type.Object({
          phoneNumberId: Type.Optional(Type.String()),
          to: Type.Optional(Type.String()),
        }),
        response: ok(SandboxSentMessages),
      },
    },
    async (request) => {
      const { phoneNumberId, to } = request.query;
      return {
        messages: [...world.outbound.values()].filter(
          (m) => (!phoneNumberId || m.phoneNumberId === phoneNumberId) && (!to || m.to === to),
        ),
      };
    },
  );

  app.get(
    '/inbound',
    {
      schema: {
        querystring: Type.Object({ phoneNumberId: Type.Optional(Type.String()) }),
        response: ok(SandboxInboundRecords),
      },
    },
    async (request) => ({
      messages: [...world.inbound.values()].filter(
        (m) => !request.query.phoneNumberId || m.phoneNumberId === request.query.phoneNumberId,
      ),
    }),
  );

  app.get(
    '/webhooks',
    {
      schema: {
        querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 2_000 })) }),
        response: ok(SandboxWebhooks),
      },
    },
    async (request) => ({
      stats: deps.engine.stats(),
      idle: deps.engine.idle(),
      deliveries: deps.engine.recent(request.query.limit ?? 100).map((d) => ({
        id: d.id,
        url: d.url,
        appId: d.appId,
        state: d.state,
        attempts: d.attempts,
        changes: d.changes,
        ...(d.lastResult === undefined ? {} : { lastResult: d.lastResult }),
        duplicatesSent: d.duplicatesSent,
        signature: d.signature,
        body: d.body.toString('utf8'),
      })),
    }),
  );

  app.put('/faults', { schema: { body: SandboxFaults, response: ok(SandboxFaultsView) } }, async (request) =>
    deps.faults.merge(request.body),
  );

  app.put(
    '/timings',
    { schema: { body: SandboxTimings, response: ok(SandboxTimingsView) } },
    async (request) => deps.progression.setTimings(request.body),
  );

  app.post('/reset', { schema: { response: ok(SandboxResetResponse) } }, async () => {
    deps.reset();
    return { reset: true };
  });
}

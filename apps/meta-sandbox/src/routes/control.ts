import { randomBytes, timingSafeEqual } from 'node:crypto';
import { type TSchema, Type } from '@sinclair/typebox';
import {
  AppError,
  ErrorResponse,
  SandboxAppFieldsRequest,
  SandboxAppView,
  SandboxAppWebhookRequest,
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
  SandboxPhoneNumberRequest,
  SandboxResetResponse,
  SandboxRevoked,
  SandboxSeed,
  SandboxSeedApp,
  SandboxSeedCustomer,
  SandboxSeedToken,
  SandboxSeedWaba,
  SandboxSentMessages,
  SandboxTemplateStatusRequest,
  SandboxTemplateStatusResponse,
  SandboxTimings,
  SandboxTimingsView,
  SandboxTokenView,
  SandboxUserPreferencesRequest,
  SandboxWabaCreated,
  SandboxWebhooks,
  SandboxWorldResponse,
} from '@wapi/contracts';
import type { ServiceApp } from '@wapi/service-kit';
import { newWamid } from '../domain/ids';
import { type BuiltMedia, buildInbound, DEFAULT_MIME, MEDIA_KINDS } from '../domain/inbound';
import { INBOUND_MEDIA_MAX_BYTES, INBOUND_MEDIA_TTL_MS } from '../domain/media-types';
import { addApp, addPhoneNumber, addToken, addWaba, applySeed, SeedError, setCustomer } from '../domain/seed';
import { statusUpdate } from '../domain/templates';
import { customerOf, type SandboxApp, windowKey } from '../domain/world';
import type { Sandbox } from '../sandbox';
import { handshakeRefusal, verifySeedCallbacks } from '../webhooks/app-callback';
import { mediaInfo, storeMedia } from './media';

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

const AppParams = Type.Object({ id: Type.String({ pattern: '^[0-9]{1,20}$' }) });

/** An app as the control API shows it (fields as a list). */
const appView = (a: SandboxApp): SandboxAppView => ({
  id: a.id,
  name: a.name,
  secret: a.secret,
  ...(a.callbackUrl === undefined ? {} : { callbackUrl: a.callbackUrl }),
  ...(a.verifyToken === undefined ? {} : { verifyToken: a.verifyToken }),
  fields: [...a.fields],
});

const seedFailure = (error: unknown): never => {
  if (error instanceof SeedError) throw new AppError('VALIDATION_FAILED', error.message);
  throw error;
};

/**
 * The simulated world under `/_sandbox/…` (never on Meta's paths), with its own admin token.
 * Answers wapi's error envelope.
 */
export async function controlRoutes(app: ServiceApp, opts: { sandbox: Sandbox }): Promise<void> {
  const { sandbox } = opts;
  const { world } = sandbox;
  const defaults = () => ({ throughputMps: sandbox.config.SANDBOX_THROUGHPUT_MPS });
  app.addHook('onRequest', adminGuard(sandbox.config.SANDBOX_ADMIN_TOKEN));

  app.post(
    '/world',
    { schema: { body: SandboxSeed, response: ok(SandboxWorldResponse) } },
    async (request) => {
      const seed = request.body;
      const refusal = await verifySeedCallbacks(sandbox.engine, seed.apps ?? []);
      if (refusal) throw new AppError('VALIDATION_FAILED', refusal);
      try {
        const created = applySeed(world, seed, sandbox.now(), defaults());
        return {
          apps: created.apps.map(appView),
          wabas: created.wabas.map((w) => ({
            id: w.id,
            name: w.name,
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
      } catch (error) {
        return seedFailure(error);
      }
    },
  );

  /**
   * §3.1: setting an app's callback URL (as in the App Dashboard) sends the GET handshake with
   * the verify token; the URL is only kept when the receiver echoes the challenge.
   */
  async function verifyAppCallback(label: string, callbackUrl: string, verifyToken: string | undefined) {
    if (verifyToken === undefined)
      throw new AppError(
        'VALIDATION_FAILED',
        'callbackUrl needs a verifyToken: Meta verifies every callback URL with the GET handshake (§3.1).',
      );
    if (!(await sandbox.engine.verify(callbackUrl, verifyToken)))
      throw new AppError('VALIDATION_FAILED', handshakeRefusal(label, callbackUrl));
  }

  app.post('/apps', { schema: { body: SandboxSeedApp, response: ok(SandboxAppView) } }, async (request) => {
    const body = request.body;
    if (body.callbackUrl !== undefined)
      await verifyAppCallback(`app ${body.id ?? '(new)'}`, body.callbackUrl, body.verifyToken);
    const created = addApp(world, body);
    return appView(created);
  });

  // §3.1: change an app's callback URL / verify token; verified like the App Dashboard does.
  app.put(
    '/apps/:id/webhook',
    {
      schema: { params: AppParams, body: SandboxAppWebhookRequest, response: ok(SandboxAppView) },
    },
    async (request) => {
      const target = world.apps.get(request.params.id);
      if (!target) throw new AppError('ROUTE_NOT_FOUND', 'No such app.');
      const body = request.body;
      await verifyAppCallback(`app ${target.id}`, body.callbackUrl, body.verifyToken);
      target.callbackUrl = body.callbackUrl;
      target.verifyToken = body.verifyToken;
      return appView(target);
    },
  );

  // §3.7: which webhook fields an app receives (as if ticked in the App Dashboard).
  app.put(
    '/apps/:id/fields',
    { schema: { params: AppParams, body: SandboxAppFieldsRequest, response: ok(SandboxAppView) } },
    async (request) => {
      const target = world.apps.get(request.params.id);
      if (!target) throw new AppError('ROUTE_NOT_FOUND', 'No such app.');
      target.fields = new Set(request.body.fields);
      return appView(target);
    },
  );

  app.post(
    '/wabas',
    { schema: { body: SandboxSeedWaba, response: ok(SandboxWabaCreated) } },
    async (request) => {
      try {
        const waba = addWaba(world, request.body, defaults());
        return { id: waba.id, name: waba.name };
      } catch (error) {
        return seedFailure(error);
      }
    },
  );

  app.post(
    '/phone-numbers',
    { schema: { body: SandboxPhoneNumberRequest, response: ok(SandboxPhoneNumberCreated) } },
    async (request) => {
      const body = request.body;
      try {
        const number = addPhoneNumber(world, body.wabaId, body, defaults());
        return {
          id: number.id,
          wabaId: number.wabaId,
          display: number.display,
          registered: number.registered,
        };
      } catch (error) {
        return seedFailure(error);
      }
    },
  );

  app.post(
    '/tokens',
    { schema: { body: SandboxSeedToken, response: ok(SandboxTokenView) } },
    async (request) => {
      try {
        const token = addToken(world, request.body, sandbox.now());
        return { value: token.value, appId: token.appId, kind: token.kind, wabaIds: token.wabaIds };
      } catch (error) {
        return seedFailure(error);
      }
    },
  );

  app.post(
    '/tokens/:value/revoke',
    { schema: { params: Type.Object({ value: Type.String() }), response: ok(SandboxRevoked) } },
    async (request) => {
      const token = world.tokens.get(request.params.value);
      if (!token) throw new AppError('ROUTE_NOT_FOUND', 'No such token.');
      token.revoked = true;
      return { revoked: true };
    },
  );

  // Embedded Signup: what FB.login hands the front end (§8.1 step 2); valid 30 s.
  app.post(
    '/oauth-codes',
    { schema: { body: SandboxOAuthCodeRequest, response: ok(SandboxOAuthCodeResponse) } },
    async (request) => {
      const body = request.body;
      if (!world.apps.has(body.appId)) throw new AppError('VALIDATION_FAILED', `unknown app ${body.appId}`);
      const code = randomBytes(24).toString('base64url');
      const expiresAt = sandbox.now() + 30_000;
      world.codes.set(code, { code, appId: body.appId, wabaIds: body.wabaIds, expiresAt, used: false });
      return { code, expiresAt };
    },
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
    async (request) => {
      const before = customerOf(world, request.params.waId);
      const wasOffline = !before.online;
      let customer: ReturnType<typeof setCustomer>;
      try {
        customer = setCustomer(world, { ...request.body, waId: request.params.waId });
      } catch (error) {
        return seedFailure(error);
      }
      if (wasOffline && customer.online) sandbox.deviceOnline(customer.waId);
      return customer;
    },
  );

  // A customer sends messages (§3.4); each opens/refreshes the service window (§6).
  app.post(
    '/inbound',
    { schema: { body: SandboxInboundRequest, response: ok(SandboxInboundResponse) } },
    async (request) => {
      const body = request.body;
      const number = world.numbers.get(body.phoneNumberId);
      if (!number) throw new AppError('VALIDATION_FAILED', `unknown phone number ${body.phoneNumberId}`);
      const customer = customerOf(world, body.from);
      if (body.name) customer.name = body.name;
      const base = sandbox.publicUrl || `${request.protocol}://${request.host}`;
      const ids: string[] = [];
      for (const spec of body.messages) {
        const now = sandbox.now();
        // §5.1: inbound counts toward the number's throughput; a user's message is never refused.
        number.limiter.tryTake(now);
        let media: BuiltMedia | undefined;
        const oversize = spec.fileSize !== undefined && spec.fileSize > INBOUND_MEDIA_MAX_BYTES;
        if (MEDIA_KINDS.has(spec.kind) && !oversize) {
          const mimeType = spec.mimeType ?? DEFAULT_MIME[spec.kind] ?? 'application/octet-stream';
          const bytes = spec.data ? Buffer.from(spec.data, 'base64') : randomBytes(64);
          const stored = storeMedia(sandbox, number.id, mimeType, bytes, INBOUND_MEDIA_TTL_MS);
          media = {
            id: stored.id,
            mimeType,
            sha256: stored.sha256,
            url: mediaInfo(sandbox, base, stored).url,
          };
        }
        const wamid = newWamid(body.from);
        const message = buildInbound(
          spec,
          {
            from: body.from,
            id: wamid,
            timestamp: String(Math.floor(now / 1_000)),
            businessNumber: number.display,
          },
          media,
        );
        world.inbound.set(wamid, {
          wamid,
          phoneNumberId: number.id,
          from: body.from,
          type: String(message.type),
          message,
          at: now,
          readByBusiness: false,
        });
        world.lastInbound.set(windowKey(number.id, body.from), now);
        if (spec.referral) {
          // §6: a Click-to-WhatsApp inbound makes the next reply within 24 h a free entry point.
          const key = windowKey(number.id, body.from);
          const entry = world.entryPoints.get(key) ?? {
            referralAt: now,
            windowStart: undefined,
            conversationId: '',
          };
          entry.referralAt = now;
          world.entryPoints.set(key, entry);
        }
        sandbox.emit(number, 'messages', {
          messaging_product: 'whatsapp',
          metadata: sandbox.metadata(number),
          contacts: [{ profile: { name: customer.name }, wa_id: body.from }],
          messages: [message],
        });
        ids.push(wamid);
      }
      return { ids };
    },
  );

  // §9: the user stops/resumes marketing; a `user_preferences` webhook follows.
  app.post(
    '/user-preferences',
    {
      schema: { body: SandboxUserPreferencesRequest, response: ok(SandboxMarketingPreference) },
    },
    async (request) => {
      const body = request.body;
      const number = world.numbers.get(body.phoneNumberId);
      if (!number) throw new AppError('VALIDATION_FAILED', `unknown phone number ${body.phoneNumberId}`);
      const customer = customerOf(world, body.waId);
      customer.marketing = body.value;
      sandbox.emit(number, 'user_preferences', {
        messaging_product: 'whatsapp',
        metadata: sandbox.metadata(number),
        contacts: [{ profile: { name: customer.name }, wa_id: body.waId }],
        user_preferences: [
          {
            wa_id: body.waId,
            detail: `User requested to ${body.value} marketing messages`,
            category: 'marketing_messages',
            value: body.value,
            timestamp: Math.floor(sandbox.now() / 1_000),
          },
        ],
      });
      return { marketing: customer.marketing };
    },
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
    async (request) => {
      const template = world.templates.get(request.params.id);
      if (!template) throw new AppError('ROUTE_NOT_FOUND', 'No such template.');
      const body = request.body;
      template.status = body.status;
      sandbox.emitWaba(template.wabaId, 'message_template_status_update', {
        ...statusUpdate(template, body.reason ?? null),
      });
      return { id: template.id, status: template.status };
    },
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
      stats: sandbox.engine.stats(),
      idle: sandbox.engine.idle(),
      deliveries: sandbox.engine.recent(request.query.limit ?? 100).map((d) => ({
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

  app.put(
    '/faults',
    { schema: { body: SandboxFaults, response: ok(SandboxFaultsView) } },
    async (request) => {
      sandbox.faults = { ...sandbox.faults, ...request.body };
      return sandbox.faults;
    },
  );

  app.put(
    '/timings',
    { schema: { body: SandboxTimings, response: ok(SandboxTimingsView) } },
    async (request) => {
      const { deterministic, ...timings } = request.body;
      sandbox.timings = { ...sandbox.timings, ...timings };
      if (deterministic !== undefined) sandbox.deterministic = deterministic;
      return { ...sandbox.timings, deterministic: sandbox.deterministic };
    },
  );

  app.post('/reset', { schema: { response: ok(SandboxResetResponse) } }, async () => {
    sandbox.reset();
    return { reset: true };
  });
}

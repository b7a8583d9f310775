import type { AccessTokenResponse, DebugTokenResponse, SubscribedAppsList } from '@wapi/contracts';
import {
  AccessTokenResponse as AccessTokenAnswer,
  DebugTokenResponse as DebugTokenAnswer,
  GraphSuccess,
  SubscribedAppsList as SubscribedAppsAnswer,
} from '@wapi/contracts';
import type { ServiceApp } from '@wapi/service-kit';
import { GraphError, invalidParam } from '../domain/graph-error';
import { newAccessToken } from '../domain/ids';
import { LIST_DEFAULT_FIELDS, phoneNumberFields, pickFields } from '../domain/phone-number-view';
import type { Sandbox } from '../sandbox';
import { countManagementCall, graphVersion, requireNumber, requireWaba, tokenOf } from './graph-auth';
import {
  CodeExchangeQuery,
  DebugTokenQuery,
  FieldsQuery,
  GraphNodeList,
  graphAnswers,
  NumberParams,
  WabaParams,
} from './graph-schemas';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** §8.4: 10 register/deregister calls per number per 72 h. */
const REGISTER_LIMIT = 10;
const REGISTER_WINDOW_MS = 72 * 3_600_000;

/** Embedded Signup surface (§8). */
export function registerOnboardingRoutes(app: ServiceApp, sandbox: Sandbox): void {
  const { world } = sandbox;

  // §8.1 step 3: server-side code exchange; codes are single-use and live 30 s.
  app.get(
    '/oauth/access_token',
    {
      config: { graphPublic: true },
      schema: { querystring: CodeExchangeQuery, response: graphAnswers(AccessTokenAnswer) },
    },
    async (request) => {
      const { client_id: clientId, client_secret: clientSecret, code } = request.query;
      for (const [name, value] of Object.entries({ client_id: clientId, client_secret: clientSecret, code }))
        if (!value)
          throw new GraphError(100, `Missing ${name} parameter.`, { message: `Missing ${name} parameter.` });
      const sandboxApp = world.apps.get(String(clientId));
      if (!sandboxApp || sandboxApp.secret !== clientSecret)
        throw new GraphError(1, 'Error validating client secret.', {
          message: 'Error validating client secret.',
        });
      const grant = world.codes.get(String(code));
      if (!grant || grant.appId !== sandboxApp.id)
        throw new GraphError(100, 'Invalid verification code format.', { subcode: 36008 });
      if (grant.used) throw new GraphError(100, 'This authorization code has been used.', { subcode: 36009 });
      if (grant.expiresAt <= sandbox.now())
        throw new GraphError(100, 'This authorization code has expired.', { subcode: 36007 });
      grant.used = true;
      const value = newAccessToken();
      world.tokens.set(value, {
        value,
        appId: sandboxApp.id,
        kind: 'business',
        wabaIds: [...grant.wabaIds],
        expiresAt: undefined,
        revoked: false,
        issuedAt: sandbox.now(),
      });
      const response: AccessTokenResponse = { access_token: value, token_type: 'bearer' };
      return response;
    },
  );

  // §8.1 fallback WABA discovery: granular_scopes with target ids, newest WABA first.
  app.get(
    '/debug_token',
    { schema: { querystring: DebugTokenQuery, response: graphAnswers(DebugTokenAnswer) } },
    async (request) => {
      const input = request.query.input_token;
      if (!input) throw invalidParam('The parameter input_token is required.');
      const token = world.tokens.get(input);
      const sandboxApp = token ? world.apps.get(token.appId) : undefined;
      const valid =
        !!token && !token.revoked && (token.expiresAt === undefined || token.expiresAt > sandbox.now());
      const wabaIds = token ? (token.kind === 'system' ? [...world.wabas.keys()] : [...token.wabaIds]) : [];
      const response: DebugTokenResponse = {
        data: {
          app_id: token?.appId ?? '',
          type: token?.kind === 'business' ? 'SYSTEM_USER' : 'SYSTEM_USER',
          application: sandboxApp?.name ?? '',
          is_valid: valid,
          expires_at: token?.expiresAt === undefined ? 0 : Math.floor(token.expiresAt / 1_000),
          scopes: valid
            ? ['business_management', 'whatsapp_business_management', 'whatsapp_business_messaging']
            : [],
          granular_scopes: valid
            ? [
                { scope: 'whatsapp_business_management', target_ids: [...wabaIds].reverse() },
                { scope: 'whatsapp_business_messaging', target_ids: [...wabaIds].reverse() },
                { scope: 'business_management' },
              ]
            : [],
        },
      };
      return response;
    },
  );

  // §8.2 / §8.3: subscribe the calling app, optionally with a verified override callback.
  app.post(
    '/:wabaId/subscribed_apps',
    { schema: { params: WabaParams, response: graphAnswers(GraphSuccess) } },
    async (request) => {
      const waba = requireWaba(sandbox, request, request.params.wabaId);
      countManagementCall(sandbox, request, waba);
      const appId = tokenOf(request).appId;
      const body = isObj(request.body) ? request.body : {};
      const uri = body.override_callback_uri;
      if (uri !== undefined) {
        if (typeof uri !== 'string' || !/^https?:\/\//.test(uri) || uri.length > 200)
          throw invalidParam('Param override_callback_uri must be a URL of at most 200 characters.');
        const verifyToken = typeof body.verify_token === 'string' ? body.verify_token : '';
        if (!(await sandbox.engine.verify(uri, verifyToken)))
          throw new GraphError(
            2200,
            `Callback verification failed with the following errors: the URL ${uri} did not echo the challenge.`,
          );
        waba.subscriptions.set(appId, { appId, overrideCallbackUri: uri, verifyToken });
      } else {
        // §8.3: re-POST without a body removes the override.
        waba.subscriptions.set(appId, { appId, overrideCallbackUri: undefined, verifyToken: undefined });
      }
      return { success: true };
    },
  );

  app.get(
    '/:wabaId/subscribed_apps',
    { schema: { params: WabaParams, response: graphAnswers(SubscribedAppsAnswer) } },
    async (request) => {
      const waba = requireWaba(sandbox, request, request.params.wabaId);
      countManagementCall(sandbox, request, waba);
      const data: SubscribedAppsList['data'] = [];
      for (const subscription of waba.subscriptions.values()) {
        const subscribed = world.apps.get(subscription.appId);
        if (!subscribed) continue;
        data.push({
          whatsapp_business_api_data: {
            id: subscribed.id,
            link: `https://www.facebook.com/games/?app_id=${subscribed.id}`,
            name: subscribed.name,
          },
          ...(subscription.overrideCallbackUri
            ? { override_callback_uri: subscription.overrideCallbackUri }
            : {}),
        });
      }
      return { data };
    },
  );

  app.delete(
    '/:wabaId/subscribed_apps',
    { schema: { params: WabaParams, response: graphAnswers(GraphSuccess) } },
    async (request) => {
      const waba = requireWaba(sandbox, request, request.params.wabaId);
      countManagementCall(sandbox, request, waba);
      waba.subscriptions.delete(tokenOf(request).appId);
      return { success: true };
    },
  );

  app.get(
    '/:wabaId/phone_numbers',
    { schema: { params: WabaParams, querystring: FieldsQuery, response: graphAnswers(GraphNodeList) } },
    async (request) => {
      const waba = requireWaba(sandbox, request, request.params.wabaId);
      countManagementCall(sandbox, request, waba);
      const version = graphVersion(request);
      const data = [...world.numbers.values()]
        .filter((n) => n.wabaId === waba.id)
        .map((n) =>
          pickFields(phoneNumberFields(world, n, version), request.query.fields, LIST_DEFAULT_FIELDS),
        );
      return { data };
    },
  );

  // §8.4: 6-digit PIN; with 2-step verification on, it must match; 10 calls / 72 h.
  const registerCall = (sandboxNumber: ReturnType<typeof requireNumber>) => {
    const now = sandbox.now();
    sandboxNumber.registerCalls = sandboxNumber.registerCalls.filter((t) => t > now - REGISTER_WINDOW_MS);
    if (sandboxNumber.registerCalls.length >= REGISTER_LIMIT)
      throw new GraphError(
        133016,
        'Too many register/deregister calls for this number in the last 72 hours.',
      );
    sandboxNumber.registerCalls.push(now);
  };

  app.post(
    '/:phoneNumberId/register',
    { schema: { params: NumberParams, response: graphAnswers(GraphSuccess) } },
    async (request) => {
      const number = requireNumber(sandbox, request, request.params.phoneNumberId);
      const body = isObj(request.body) ? request.body : {};
      if (body.messaging_product !== 'whatsapp')
        throw invalidParam('The parameter messaging_product is required and must be "whatsapp".');
      if (body.pin === undefined) throw invalidParam('The parameter pin is required.');
      if (typeof body.pin !== 'string' || !/^\d{6}$/.test(body.pin))
        throw invalidParam('Param pin must be 6 digits.');
      registerCall(number);
      if (number.pin !== undefined && number.pin !== body.pin)
        throw new GraphError(133005, 'The two-step verification PIN is incorrect.');
      number.pin = body.pin;
      number.registered = true;
      return { success: true };
    },
  );

  app.post(
    '/:phoneNumberId/deregister',
    { schema: { params: NumberParams, response: graphAnswers(GraphSuccess) } },
    async (request) => {
      const number = requireNumber(sandbox, request, request.params.phoneNumberId);
      registerCall(number);
      number.registered = false;
      return { success: true };
    },
  );
}

import type { AccessTokenResponse } from '@wapi/contracts';
import {
  AccessTokenResponse as AccessTokenAnswer,
  DebugTokenResponse as DebugTokenAnswer,
  GraphSuccess,
  SubscribedAppsList as SubscribedAppsAnswer,
} from '@wapi/contracts';
import type { ServiceApp } from '@wapi/service-kit';
import {
  debugToken,
  deregisterNumber,
  exchangeCode,
  registerNumber,
  subscribeApp,
  subscribedApps,
  unsubscribeApp,
} from '../domain/onboarding';
import { LIST_DEFAULT_FIELDS, phoneNumberFields, pickFields } from '../domain/phone-number-view';
import type { CallbackVerifier, Clock } from '../domain/ports';
import type { World } from '../domain/world';
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

/** What the onboarding routes use. */
export interface OnboardingRouteDeps {
  world: World;
  clock: Clock;
  verifier: CallbackVerifier;
}

/** Embedded Signup surface (§8); the rules are in domain/onboarding.ts. */
export function registerOnboardingRoutes(app: ServiceApp, deps: OnboardingRouteDeps): void {
  const { world } = deps;

  // §8.1 step 3: server-side code exchange; codes are single-use and live 30 s.
  app.get(
    '/oauth/access_token',
    {
      config: { graphPublic: true },
      schema: { querystring: CodeExchangeQuery, response: graphAnswers(AccessTokenAnswer) },
    },
    async (request) => {
      const { client_id: clientId, client_secret: clientSecret, code } = request.query;
      const value = exchangeCode(world, deps.clock.now(), { clientId, clientSecret, code });
      const response: AccessTokenResponse = { access_token: value, token_type: 'bearer' };
      return response;
    },
  );

  // §8.1 fallback WABA discovery: granular_scopes with target ids, newest WABA first.
  app.get(
    '/debug_token',
    { schema: { querystring: DebugTokenQuery, response: graphAnswers(DebugTokenAnswer) } },
    async (request) => debugToken(world, deps.clock.now(), request.query.input_token),
  );

  // §8.2 / §8.3: subscribe the calling app, optionally with a verified override callback.
  app.post(
    '/:wabaId/subscribed_apps',
    { schema: { params: WabaParams, response: graphAnswers(GraphSuccess) } },
    async (request) => {
      const waba = requireWaba(deps, request, request.params.wabaId);
      countManagementCall(deps, request, waba);
      await subscribeApp(deps.verifier, waba, tokenOf(request).appId, request.body);
      return { success: true };
    },
  );

  app.get(
    '/:wabaId/subscribed_apps',
    { schema: { params: WabaParams, response: graphAnswers(SubscribedAppsAnswer) } },
    async (request) => {
      const waba = requireWaba(deps, request, request.params.wabaId);
      countManagementCall(deps, request, waba);
      return subscribedApps(world, waba);
    },
  );

  app.delete(
    '/:wabaId/subscribed_apps',
    { schema: { params: WabaParams, response: graphAnswers(GraphSuccess) } },
    async (request) => {
      const waba = requireWaba(deps, request, request.params.wabaId);
      countManagementCall(deps, request, waba);
      unsubscribeApp(waba, tokenOf(request).appId);
      return { success: true };
    },
  );

  app.get(
    '/:wabaId/phone_numbers',
    { schema: { params: WabaParams, querystring: FieldsQuery, response: graphAnswers(GraphNodeList) } },
    async (request) => {
      const waba = requireWaba(deps, request, request.params.wabaId);
      countManagementCall(deps, request, waba);
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
  app.post(
    '/:phoneNumberId/register',
    { schema: { params: NumberParams, response: graphAnswers(GraphSuccess) } },
    async (request) => {
      const number = requireNumber(deps, request, request.params.phoneNumberId);
      registerNumber(number, request.body, deps.clock.now());
      return { success: true };
    },
  );

  app.post(
    '/:phoneNumberId/deregister',
    { schema: { params: NumberParams, response: graphAnswers(GraphSuccess) } },
    async (request) => {
      const number = requireNumber(deps, request, request.params.phoneNumberId);
      deregisterNumber(number, deps.clock.now());
      return { success: true };
    },
  );
}

// @ts-check
// The simulated Meta world (apps, WABAs, numbers, tokens, customers, templates in
// meta-sandbox) and the one function that connects a sandbox number to a wapi workspace.
// Shared by the end-to-end suite and `./wapi up`'s demo workspace.
import { publicApi } from './api.mjs';

/**
 * A WhatsApp number of the simulated world, with what connecting it needs.
 * @typedef {object} SandboxNumber
 * @property {string} phoneNumberId
 * @property {string} wabaId
 * @property {string} display  digits, as Meta shows it
 * @property {string} verifiedName
 * @property {string} accessToken  a system-user token of the app with this WABA in its scope
 * @property {string} [businessId]  the business portfolio owning the WABA: Embedded Signup's
 *   event hands it to the front end, which passes it on (wapi counts the messaging limit per portfolio)
 */

/**
 * @typedef {object} WorldSpec
 * @property {import('./platform.mjs').MetaApp} app
 * @property {string} callbackUrl  webhook-ingest's /api/v1/webhook (or the balancer in front)
 * @property {boolean} [appExists]  the app was seeded before (a second world for the same app): leave it out
 * @property {SandboxNumber[]} numbers
 * @property {{ waId: string, name: string }[]} [customers]
 * @property {{ id?: string, wabaId: string, name: string, language: string, category: 'MARKETING' | 'UTILITY' | 'AUTHENTICATION', body: string }[]} [templates]  approved at Meta already (wapi learns them by POST /api/v1/templates/sync)
 */

/**
 * `{ businessId }` of the WABA `wabaId` as its numbers in `numbers` name it, or nothing.
 * @param {SandboxNumber[]} numbers
 * @param {string} wabaId
 */
function portfolioOf(numbers, wabaId) {
  const businessId = numbers.find((n) => n.wabaId === wabaId && n.businessId)?.businessId;
  return businessId ? { businessId } : {};
}

/**
 * The `POST /_sandbox/world` seed for a spec: one app (its callback verified by the GET
 * handshake against webhook-ingest, so the platform must be up), its WABAs with their numbers,
 * one token per WABA, the customers and approved templates. Fixed ids make applying it to a
 * fresh sandbox give the same world every time (the demo workspace relies on that).
 * @param {WorldSpec} spec
 */
export function worldSeed(spec) {
  const wabaIds = [...new Set(spec.numbers.map((n) => n.wabaId))];
  const tokens = [...new Map(spec.numbers.map((n) => [n.accessToken, n])).values()];
  return {
    apps: spec.appExists
      ? []
      : [
          {
            id: spec.app.appId,
            name: 'wapi',
            secret: spec.app.appSecret,
            callbackUrl: spec.callbackUrl,
            verifyToken: spec.app.verifyToken,
          },
        ],
    wabas: wabaIds.map((id) => ({
      id,
      name: `WABA ${id}`,
      ...portfolioOf(spec.numbers, id),
      subscribedApps: [spec.app.appId],
      phoneNumbers: spec.numbers
        .filter((n) => n.wabaId === id)
        .map((n) => ({
          id: n.phoneNumberId,
          display: n.display,
          verifiedName: n.verifiedName,
          pin: SANDBOX_PIN,
        })),
    })),
    tokens: tokens.map((n) => ({
      value: n.accessToken,
      appId: spec.app.appId,
      kind: 'system',
      wabaIds: spec.numbers.filter((m) => m.accessToken === n.accessToken).map((m) => m.wabaId),
    })),
    customers: (spec.customers ?? []).map((c) => ({ waId: c.waId, name: c.name })),
    templates: (spec.templates ?? []).map((t) => ({
      ...(t.id ? { id: t.id } : {}),
      wabaId: t.wabaId,
      name: t.name,
      language: t.language,
      category: t.category,
      status: 'APPROVED',
      components: [{ type: 'BODY', text: t.body }],
    })),
  };
}

/** The two-step verification PIN of every number of a seeded world. */
export const SANDBOX_PIN = '123456';

/**
 * Connects a sandbox number to the workspace `api` acts in, and resolves once wapi lists it
 * as connected. The one place that knows how a number gets connected, shared by the suite and
 * `./wapi up`: Embedded Signup as a business's front end drives it — `POST
 * /api/v1/onboarding/esb/start`, Meta's flow (here `POST /_sandbox/oauth-codes` mints the code
 * the flow would return), then `POST /api/v1/onboarding/esb/callback`, after which gateway has
 * exchanged the code, stored the token in vault, subscribed the app and registered the number.
 * A gateway without the onboarding routes (404) gets the manual connect instead (`POST
 * /api/v1/phone-numbers` with the number's token). Idempotent: connecting again replaces the
 * token and details.
 * @param {import('./api.mjs').Api} api  acting as a member allowed `phone_numbers:manage` (an owner's access token)
 * @param {SandboxNumber} number
 * @param {{ sandbox: import('./api.mjs').SandboxControl, appId: string }} meta
 * @returns {Promise<any>} the number as `GET /api/v1/phone-numbers/:id` shows it
 */
export async function connectSandboxNumber(api, number, meta) {
  const start = await api.request('POST', '/api/v1/onboarding/esb/start');
  if (start.status === 404 && start.body?.error?.code === 'ROUTE_NOT_FOUND') {
    await api.post('/api/v1/phone-numbers', {
      phoneNumberId: number.phoneNumberId,
      wabaId: number.wabaId,
      displayPhoneNumber: number.display,
      verifiedName: number.verifiedName,
      accessToken: number.accessToken,
    });
  } else {
    if (start.status !== 200)
      throw new Error(
        `POST /api/v1/onboarding/esb/start answered ${start.status}: ${JSON.stringify(start.body)}`,
      );
    const { code } = await meta.sandbox.request('POST', '/oauth-codes', {
      appId: meta.appId,
      wabaIds: [number.wabaId],
    });
    const done = await api.post('/api/v1/onboarding/esb/callback', {
      state: start.body.state,
      code,
      wabaId: number.wabaId,
      phoneNumberId: number.phoneNumberId,
      ...(number.businessId ? { businessId: number.businessId } : {}),
      pin: SANDBOX_PIN,
    });
    if (!done.completed)
      throw new Error(`Embedded Signup did not complete every step: ${JSON.stringify(done.steps)}`);
  }
  return api.get(`/api/v1/phone-numbers/${number.phoneNumberId}`);
}

export { publicApi };

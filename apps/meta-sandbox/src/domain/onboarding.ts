import type { DebugTokenResponse, SubscribedAppsList } from '@wapi/contracts';
import { GraphError, invalidParam } from './graph-error';
import { newAccessToken } from './ids';
import type { CallbackVerifier } from './ports';
import type { PhoneNumber, Waba, World } from './world';

// Embedded Signup and number onboarding (§8): the decisions and state changes behind the
// Graph onboarding routes, which only parse and answer.

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** §8.4: 10 register/deregister calls per number per 72 h. */
const REGISTER_LIMIT = 10;
const REGISTER_WINDOW_MS = 72 * 3_600_000;

/**
 * §8.1 step 3: exchanges a single-use Embedded Signup code (valid 30 s) for a business token
 * that reaches the code's WABAs. Returns the new token.
 */
export function exchangeCode(
  world: World,
  now: number,
  input: { clientId: string | undefined; clientSecret: string | undefined; code: string | undefined },
): string {
  const given = { client_id: input.clientId, client_secret: input.clientSecret, code: input.code };
  for (const [name, value] of Object.entries(given))
    if (!value)
      throw new GraphError(100, `Missing ${name} parameter.`, { message: `Missing ${name} parameter.` });
  const app = world.apps.get(String(input.clientId));
  if (!app || app.secret !== input.clientSecret)
    throw new GraphError(1, 'Error validating client secret.', {
      message: 'Error validating client secret.',
    });
  const grant = world.codes.get(String(input.code));
  if (!grant || grant.appId !== app.id)
    throw new GraphError(100, 'Invalid verification code format.', { subcode: 36008 });
  if (grant.used) throw new GraphError(100, 'This authorization code has been used.', { subcode: 36009 });
  if (grant.expiresAt <= now)
    throw new GraphError(100, 'This authorization code has expired.', { subcode: 36007 });
  grant.used = true;
  const value = newAccessToken();
  world.tokens.set(value, {
    value,
    appId: app.id,
    kind: 'business',
    wabaIds: [...grant.wabaIds],
    expiresAt: undefined,
    revoked: false,
    issuedAt: now,
  });
  return value;
}

/** §8.1 fallback WABA discovery: `granular_scopes` with the WABAs a token reaches, newest first. */
export function debugToken(world: World, now: number, inputToken: string | undefined): DebugTokenResponse {
  if (!inputToken) throw invalidParam('The parameter input_token is required.');
  const token = world.tokens.get(inputToken);
  const app = token ? world.apps.get(token.appId) : undefined;
  const valid = !!token && !token.revoked && (token.expiresAt === undefined || token.expiresAt > now);
  const wabaIds = token ? (token.kind === 'system' ? [...world.wabas.keys()] : [...token.wabaIds]) : [];
  return {
    data: {
      app_id: token?.appId ?? '',
      type: 'SYSTEM_USER',
      application: app?.name ?? '',
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
}

/**
 * §8.2 / §8.3: subscribes `appId` to the WABA; with `override_callback_uri` (≤ 200, verified
 * by the GET handshake, §3.1) the WABA's `messages` go there; a body-less re-POST removes it.
 */
export async function subscribeApp(
  verifier: CallbackVerifier,
  waba: Waba,
  appId: string,
  body: unknown,
): Promise<void> {
  const input = isObj(body) ? body : {};
  const uri = input.override_callback_uri;
  if (uri === undefined) {
    waba.subscriptions.set(appId, { appId, overrideCallbackUri: undefined, verifyToken: undefined });
    return;
  }
  if (typeof uri !== 'string' || !/^https?:\/\//.test(uri) || uri.length > 200)
    throw invalidParam('Param override_callback_uri must be a URL of at most 200 characters.');
  const verifyToken = typeof input.verify_token === 'string' ? input.verify_token : '';
  if (!(await verifier.verify(uri, verifyToken)))
    throw new GraphError(
      2200,
      `Callback verification failed with the following errors: the URL ${uri} did not echo the challenge.`,
    );
  waba.subscriptions.set(appId, { appId, overrideCallbackUri: uri, verifyToken });
}

/** §8.2: unsubscribes `appId` from the WABA's webhooks. */
export function unsubscribeApp(waba: Waba, appId: string): void {
  waba.subscriptions.delete(appId);
}

/** §8.2: the apps subscribed to a WABA, as Graph lists them. */
export function subscribedApps(world: World, waba: Waba): SubscribedAppsList {
  const data: SubscribedAppsList['data'] = [];
  for (const subscription of waba.subscriptions.values()) {
    const app = world.apps.get(subscription.appId);
    if (!app) continue;
    data.push({
      whatsapp_business_api_data: {
        id: app.id,
        link: `https://www.facebook.com/games/?app_id=${app.id}`,
        name: app.name,
      },
      ...(subscription.overrideCallbackUri
        ? { override_callback_uri: subscription.overrideCallbackUri }
        : {}),
    });
  }
  return { data };
}

/** §8.4: counts a register/deregister call; the eleventh in 72 h is 133016. */
function countRegisterCall(number: PhoneNumber, now: number): void {
  number.registerCalls = number.registerCalls.filter((t) => t > now - REGISTER_WINDOW_MS);
  if (number.registerCalls.length >= REGISTER_LIMIT)
    throw new GraphError(133016, 'Too many register/deregister calls for this number in the last 72 hours.');
  number.registerCalls.push(now);
}

/**
 * §8.4: registers a number with a 6-digit PIN; with two-step verification already on, the PIN
 * must match (133005).
 */
export function registerNumber(number: PhoneNumber, body: unknown, now: number): void {
  const input = isObj(body) ? body : {};
  if (input.messaging_product !== 'whatsapp')
    throw invalidParam('The parameter messaging_product is required and must be "whatsapp".');
  if (input.pin === undefined) throw invalidParam('The parameter pin is required.');
  if (typeof input.pin !== 'string' || !/^\d{6}$/.test(input.pin))
    throw invalidParam('Param pin must be 6 digits.');
  countRegisterCall(number, now);
  if (number.pin !== undefined && number.pin !== input.pin)
    throw new GraphError(133005, 'The two-step verification PIN is incorrect.');
  number.pin = input.pin;
  number.registered = true;
}

/** §8.4: deregisters a number (same call budget as register). */
export function deregisterNumber(number: PhoneNumber, now: number): void {
  countRegisterCall(number, now);
  number.registered = false;
}

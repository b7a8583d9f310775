import { randomBytes } from 'node:crypto';
import {
  AppError,
  type SandboxAppFieldsRequest,
  type SandboxAppView,
  type SandboxAppWebhookRequest,
  type SandboxOAuthCodeRequest,
} from '@wapi/contracts';
import type { CallbackVerifier } from './ports';
import type { SandboxApp, World } from './world';

/** §8.1 step 2: an Embedded Signup code is valid 30 s. */
const OAUTH_CODE_TTL_MS = 30_000;

/** Why an app callback URL was refused by the GET verification handshake (§3.1). */
export function handshakeRefusal(appLabel: string, url: string): string {
  return `The callback URL ${url} of ${appLabel} failed the GET verification handshake (§3.1): it must answer hub.mode=subscribe with the right hub.verify_token by 200 and the raw hub.challenge.`;
}

/** An app as the control API shows it (fields as a list). */
export const appView = (a: SandboxApp): SandboxAppView => ({
  id: a.id,
  name: a.name,
  secret: a.secret,
  ...(a.callbackUrl === undefined ? {} : { callbackUrl: a.callbackUrl }),
  ...(a.verifyToken === undefined ? {} : { verifyToken: a.verifyToken }),
  fields: [...a.fields],
});

function appOf(world: World, appId: string): SandboxApp {
  const app = world.apps.get(appId);
  if (!app) throw new AppError('ROUTE_NOT_FOUND', 'No such app.');
  return app;
}

/**
 * §3.1: setting an app's callback URL (as in the App Dashboard) sends the GET handshake with
 * the verify token; the URL is only accepted when the receiver echoes the challenge.
 */
export async function checkAppCallback(
  verifier: CallbackVerifier,
  label: string,
  callbackUrl: string,
  verifyToken: string | undefined,
): Promise<void> {
  if (verifyToken === undefined)
    throw new AppError(
      'VALIDATION_FAILED',
      'callbackUrl needs a verifyToken: Meta verifies every callback URL with the GET handshake (§3.1).',
    );
  if (!(await verifier.verify(callbackUrl, verifyToken)))
    throw new AppError('VALIDATION_FAILED', handshakeRefusal(label, callbackUrl));
}

/** §3.1: changes an app's callback URL and verify token once the new URL passed the handshake. */
export async function setAppCallback(
  deps: { world: World; verifier: CallbackVerifier },
  appId: string,
  input: SandboxAppWebhookRequest,
): Promise<SandboxApp> {
  const app = appOf(deps.world, appId);
  await checkAppCallback(deps.verifier, `app ${app.id}`, input.callbackUrl, input.verifyToken);
  app.callbackUrl = input.callbackUrl;
  app.verifyToken = input.verifyToken;
  return app;
}

/** §3.7: the webhook fields an app receives (as if ticked in the App Dashboard). */
export function setAppFields(world: World, appId: string, input: SandboxAppFieldsRequest): SandboxApp {
  const app = appOf(world, appId);
  app.fields = new Set(input.fields);
  return app;
}

/** Revokes an access token: Graph then answers 190 with subcode 460 (§1.2). */
export function revokeToken(world: World, value: string): { revoked: true } {
  const token = world.tokens.get(value);
  if (!token) throw new AppError('ROUTE_NOT_FOUND', 'No such token.');
  token.revoked = true;
  return { revoked: true };
}

/** Embedded Signup: the code FB.login hands the front end (§8.1 step 2), single-use, valid 30 s. */
export function issueOAuthCode(
  world: World,
  now: number,
  input: SandboxOAuthCodeRequest,
): { code: string; expiresAt: number } {
  if (!world.apps.has(input.appId))
    throw new AppError(
      'VALIDATION_FAILED',
      `unknown app ${input.appId}; create it first (POST /_sandbox/apps)`,
    );
  const code = randomBytes(24).toString('base64url');
  const expiresAt = now + OAUTH_CODE_TTL_MS;
  world.codes.set(code, { code, appId: input.appId, wabaIds: input.wabaIds, expiresAt, used: false });
  return { code, expiresAt };
}

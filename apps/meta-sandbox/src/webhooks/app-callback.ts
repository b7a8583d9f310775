import type { DeliveryEngine } from './delivery-engine';

/** Why an app callback URL was refused by the GET verification handshake (§3.1). */
export function handshakeRefusal(appLabel: string, url: string): string {
  return `The callback URL ${url} of ${appLabel} failed the GET verification handshake (§3.1): it must answer hub.mode=subscribe with the right hub.verify_token by 200 and the raw hub.challenge.`;
}

/**
 * §3.1: Meta sends the GET handshake whenever an app's callback URL or verify token is set. A
 * seed (SANDBOX_SEED_FILE, `POST /_sandbox/world`) app with both a `callbackUrl` and a
 * `verifyToken` is verified before anything is applied; one without a verify token is taken as
 * already verified. Returns the refusal of the first app that fails, if any.
 */
export async function verifySeedCallbacks(
  engine: DeliveryEngine,
  apps: ReadonlyArray<{
    id?: string | undefined;
    callbackUrl?: string | undefined;
    verifyToken?: string | undefined;
  }>,
): Promise<string | undefined> {
  const checks = apps.map(async (app) => {
    if (app.callbackUrl === undefined || app.verifyToken === undefined) return undefined;
    return (await engine.verify(app.callbackUrl, app.verifyToken))
      ? undefined
      : handshakeRefusal(`app ${app.id ?? '(new)'}`, app.callbackUrl);
  });
  return (await Promise.all(checks)).find((refusal) => refusal !== undefined);
}

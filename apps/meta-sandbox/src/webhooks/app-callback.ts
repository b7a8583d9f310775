import { handshakeRefusal } from '../domain/access';
import type { CallbackVerifier } from '../domain/ports';

export { handshakeRefusal } from '../domain/access';

/**
 * §3.1: Meta sends the GET handshake whenever an app's callback URL or verify token is set. A
 * seed (SANDBOX_SEED_FILE, `POST /_sandbox/world`) app with both a `callbackUrl` and a
 * `verifyToken` is verified before anything is applied; one without a verify token is taken as
 * already verified. Returns the refusal of the first app that fails, if any.
 */
export async function verifySeedCallbacks(
  engine: CallbackVerifier,
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

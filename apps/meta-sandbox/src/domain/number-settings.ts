import { GraphError, invalidParam } from './graph-error';
import type { CallbackVerifier } from './ports';
import type { PhoneNumber } from './world';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * `POST /{phone-number-id}`: a two-step verification PIN (§8.4) or the number's webhook
 * override (§8.3), which is kept only after the GET handshake (§3.1); an empty
 * `override_callback_uri` removes it.
 */
export async function updatePhoneNumber(
  verifier: CallbackVerifier,
  number: PhoneNumber,
  body: unknown,
): Promise<void> {
  const input = isObj(body) ? body : {};
  if (input.pin !== undefined) {
    if (typeof input.pin !== 'string' || !/^\d{6}$/.test(input.pin))
      throw invalidParam('Param pin must be 6 digits.');
    number.pin = input.pin;
    return;
  }
  if (isObj(input.webhook_configuration)) {
    const uri = input.webhook_configuration.override_callback_uri;
    const verifyToken = input.webhook_configuration.verify_token;
    if (uri === undefined || uri === '') {
      number.override = undefined;
      return;
    }
    if (typeof uri !== 'string' || !/^https?:\/\//.test(uri) || uri.length > 200)
      throw invalidParam('Param override_callback_uri must be a URL of at most 200 characters.');
    if (!(await verifier.verify(uri, typeof verifyToken === 'string' ? verifyToken : '')))
      throw new GraphError(
        2200,
        `Callback verification failed with the following errors: the URL ${uri} did not echo the challenge.`,
      );
    number.override = { uri, verifyToken: typeof verifyToken === 'string' ? verifyToken : undefined };
    return;
  }
  throw invalidParam('Nothing to update: pass pin or webhook_configuration.');
}

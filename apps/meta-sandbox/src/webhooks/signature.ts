import { createHmac } from 'node:crypto';

/**
 * `X-Hub-Signature-256` value (§3.2): `sha256=` + lowercase hex HMAC-SHA256 keyed with the
 * app secret over the exact bytes of the body.
 */
export function signBody(appSecret: string, body: Buffer): string {
  return `sha256=${createHmac('sha256', appSecret).update(body).digest('hex')}`;
}

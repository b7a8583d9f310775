import { randomBytes, randomInt } from 'node:crypto';

/**
 * Meta-style WhatsApp message id (§2.2): `wamid.` + base64 of an opaque binary blob that
 * starts with the recipient's digits, like Meta's (`wamid.HBgLMTY0...`); well under 128 chars.
 */
export function newWamid(waId: string): string {
  const blob = Buffer.concat([
    Buffer.from([0x1c, 0x18, waId.length]),
    Buffer.from(waId),
    Buffer.from([0x15, 0x02, 0x00, 0x11, 0x18, 0x12]),
    Buffer.from(randomBytes(9).toString('hex').toUpperCase()),
    Buffer.from([0x00]),
  ]);
  return `wamid.${blob.toString('base64')}`;
}

/** Graph object ids are 15-digit decimal strings (§8.5 examples), safe as JSON numbers too (template ids are integers in webhooks, §3.7). */
export function newObjectId(): string {
  return `${randomInt(1, 10)}${String(randomInt(0, 1e8)).padStart(8, '0')}${String(randomInt(0, 1e6)).padStart(6, '0')}`;
}

/** `fbtrace_id`: random, 23 url-safe characters (§1.3). */
export function newFbtraceId(): string {
  return randomBytes(17).toString('base64url').slice(0, 23);
}

/** Opaque `EAA…` access tokens (§1.2). */
export function newAccessToken(): string {
  return `EAA${randomBytes(48).toString('base64url')}`;
}

export function newSecret(bytes = 16): string {
  return randomBytes(bytes).toString('hex');
}

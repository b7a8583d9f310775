import { createHmac, timingSafeEqual } from 'node:crypto';

/** Why a signature was refused (the `reason` label of the rejected counter). */
export type SignatureProblem = 'missing' | 'malformed' | 'sha1_only' | 'mismatch';

const SHA256 = /^sha256=([0-9a-fA-F]{64})$/;

/**
 * Checks `X-Hub-Signature-256` over the body exactly as received (Meta escapes non-ASCII
 * as `\uXXXX`; a re-serialised body would not match). Every active secret is tried and each
 * comparison is constant-time; the loop does not stop at the first match, so the time does not
 * say which secret matched. Returns undefined when one secret matches.
 */
export function checkSignature(
  raw: Buffer,
  header: string | string[] | undefined,
  secrets: readonly string[],
  sha1Header?: string | string[] | undefined,
): SignatureProblem | undefined {
  if (header === undefined || header === '') return sha1Header ? 'sha1_only' : 'missing';
  if (Array.isArray(header)) return 'malformed';
  const match = SHA256.exec(header);
  if (!match) return header.startsWith('sha1=') ? 'sha1_only' : 'malformed';
  const given = Buffer.from((match[1] as string).toLowerCase(), 'hex');
  let ok = false;
  for (const secret of secrets) {
    const expected = createHmac('sha256', secret).update(raw).digest();
    if (timingSafeEqual(expected, given)) ok = true;
  }
  return ok ? undefined : 'mismatch';
}

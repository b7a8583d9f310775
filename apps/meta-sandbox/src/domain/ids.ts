import { randomBytes, randomInt } from 'node:crypto';

/**
 * Random bytes from a pooled buffer: ids are minted several times per accepted send, and one
 * `randomBytes` call per id was a measurable share of the send path under load (bench/
 * meta-sandbox-capacity.mjs). The bytes are still from the CSPRNG; callers copy them at once.
 */
const POOL_BYTES = 8_192;
let pool = Buffer.alloc(0);
let offset = 0;
function pooledRandom(bytes: number): Buffer {
  if (offset + bytes > pool.length) {
    pool = randomBytes(Math.max(POOL_BYTES, bytes));
    offset = 0;
  }
  const out = pool.subarray(offset, offset + bytes);
  offset += bytes;
  return out;
}

/** `bytes` random bytes as lowercase hex (conversation ids, §3.5). */
export function randomHex(bytes: number): string {
  return pooledRandom(bytes).toString('hex');
}

/**
 * Meta-style WhatsApp message id (§2.2): `wamid.` + base64 of an opaque binary blob that
 * starts with the recipient's digits, like Meta's (`wamid.HBgLMTY0...`); well under 128 chars.
 */
export function newWamid(waId: string): string {
  // One buffer written in place: this runs once per accepted send.
  const blob = Buffer.allocUnsafe(3 + waId.length + 6 + 18 + 1);
  let at = blob.writeUInt8(0x1c, 0);
  at = blob.writeUInt8(0x18, at);
  at = blob.writeUInt8(waId.length, at);
  at += blob.write(waId, at, 'latin1');
  for (const byte of [0x15, 0x02, 0x00, 0x11, 0x18, 0x12]) at = blob.writeUInt8(byte, at);
  at += blob.write(pooledRandom(9).toString('hex').toUpperCase(), at, 'latin1');
  blob.writeUInt8(0x00, at);
  return `wamid.${blob.toString('base64')}`;
}

/** Graph object ids are 15-digit decimal strings (§8.5 examples), safe as JSON numbers too (template ids are integers in webhooks, §3.7). */
export function newObjectId(): string {
  return `${randomInt(1, 10)}${String(randomInt(0, 1e8)).padStart(8, '0')}${String(randomInt(0, 1e6)).padStart(6, '0')}`;
}

/** `fbtrace_id`: random, 23 url-safe characters (§1.3). */
export function newFbtraceId(): string {
  return pooledRandom(17).toString('base64url').slice(0, 23);
}

/** Opaque `EAA…` access tokens (§1.2). */
export function newAccessToken(): string {
  return `EAA${randomBytes(48).toString('base64url')}`;
}

export function newSecret(bytes = 16): string {
  return randomBytes(bytes).toString('hex');
}

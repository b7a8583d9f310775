import { createHash, timingSafeEqual } from 'node:crypto';
import { base62Fixed, randomBase62 } from './ids';

/**
 * API key format, GitHub-token style: `wapi_` + 12-character id + 32-character secret +
 * 6-character CRC32 checksum of everything before it, all base62 (55 characters).
 * The prefix and checksum let secret scanners find a leaked key with few false positives
 * (`wapi_[0-9A-Za-z]{50}` whose last 6 characters check out); the id is the stored
 * document's `_id`, so authentication is a lookup by `_id`, never a scan by hash.
 */
export const API_KEY_PREFIX = 'wapi_';
const ID_LENGTH = 12;
const SECRET_LENGTH = 32;
const CHECKSUM_LENGTH = 6;
const KEY_PATTERN = /^wapi_([0-9A-Za-z]{12})([0-9A-Za-z]{32})([0-9A-Za-z]{6})$/;

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

/** CRC-32 (IEEE) of the UTF-8 text. */
export function crc32(text: string): number {
  let crc = 0xffffffff;
  for (const byte of Buffer.from(text, 'utf8')) crc = CRC_TABLE[(crc ^ byte) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

export interface GeneratedKey {
  id: string;
  /** The whole key: shown once, never stored. */
  key: string;
  hash: string;
  hint: string;
}

/** SHA-256 of the whole key: the key carries 190 random bits, so a slow hash adds nothing. */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

export function generateApiKey(): GeneratedKey {
  const id = randomBase62(ID_LENGTH);
  const body = `${API_KEY_PREFIX}${id}${randomBase62(SECRET_LENGTH)}`;
  const key = `${body}${base62Fixed(crc32(body), CHECKSUM_LENGTH)}`;
  return { id, key, hash: hashApiKey(key), hint: key.slice(0, API_KEY_PREFIX.length + ID_LENGTH) };
}

/** The key's id when `value` is well-formed with a valid checksum, else undefined. */
export function parseApiKey(value: string): string | undefined {
  const match = KEY_PATTERN.exec(value);
  if (!match) return undefined;
  const body = value.slice(0, value.length - CHECKSUM_LENGTH);
  return base62Fixed(crc32(body), CHECKSUM_LENGTH) === match[3] ? match[1] : undefined;
}

/** Constant-time comparison of two hex digests. */
export function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && timingSafeEqual(x, y);
}

export const API_KEY_LENGTHS = { ID_LENGTH, SECRET_LENGTH, CHECKSUM_LENGTH } as const;

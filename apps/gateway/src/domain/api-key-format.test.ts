import { describe, expect, it } from 'vitest';
import { crc32, generateApiKey, hashApiKey, parseApiKey } from './api-key-format';

describe('API key format', () => {
  it('computes the standard CRC-32 (IEEE) check value', () => {
    expect(crc32('123456789')).toBe(0xcbf43926);
  });

  it('generates wapi_ + 50 base62 characters whose id parses back and whose hash is SHA-256 of the key', () => {
    const key = generateApiKey();
    expect(key.key).toMatch(/^wapi_[0-9A-Za-z]{50}$/);
    expect(parseApiKey(key.key)).toBe(key.id);
    expect(key.hash).toBe(hashApiKey(key.key));
    expect(key.hint).toBe(`wapi_${key.id}`);
  });

  it('refuses every single-character change (checksum), a wrong prefix and a wrong length', () => {
    const { key } = generateApiKey();
    const alphabet = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
    for (let i = 5; i < key.length; i++) {
      const swapped = alphabet[(alphabet.indexOf(key[i]!) + 1) % 62];
      expect(parseApiKey(`${key.slice(0, i)}${swapped}${key.slice(i + 1)}`), `position ${i}`).toBeUndefined();
    }
    expect(parseApiKey(`wapx_${key.slice(5)}`)).toBeUndefined();
    expect(parseApiKey(key.slice(0, -1))).toBeUndefined();
  });
});

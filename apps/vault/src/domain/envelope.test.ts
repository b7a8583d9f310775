import { randomBytes } from 'node:crypto';
import { isAppError } from '@wapi/contracts';
import { describe, expect, it } from 'vitest';
import { formatEnvelope, open, parseEnvelope, rewrap, type SecretContext, seal } from './envelope';
import { createKeyRing, KeyRingError } from './key-ring';

const hex = () => randomBytes(32).toString('hex');
const k1 = hex();
const k2 = hex();
const ring1 = createKeyRing({ masterKey: k1, extra: '', minVersion: 1 });
const ring2 = createKeyRing({ masterKey: k1, extra: `2=${k2}`, minVersion: 1 });
const ring2only = createKeyRing({ masterKey: k1, extra: `2=${k2}`, minVersion: 2 });
const ctx: SecretContext = {
  workspaceId: 'ws_1',
  purpose: 'meta.access_token',
  recordId: 'waba_1',
  revision: 1,
};
const value = 'EAAG-token-value-ü';

async function codeOf(fn: () => Promise<unknown>): Promise<string> {
  try {
    await fn();
  } catch (error) {
    if (isAppError(error)) return error.code;
    throw error;
  }
  return 'opened';
}

describe('envelope encryption', async () => {
  it('round-trips a value and names its KEK version in the stored form', async () => {
    const sealed = await seal(ring1, ctx, value);
    expect(sealed).toMatch(/^vault:v1:/);
    expect(sealed).not.toContain(value);
    expect(await open(ring1, ctx, sealed)).toBe(value);
  });

  it('uses a fresh data key and nonce for every seal', async () => {
    const a = parseEnvelope(await seal(ring1, ctx, value));
    const b = parseEnvelope(await seal(ring1, ctx, value));
    expect(a.wrappedKey.equals(b.wrappedKey)).toBe(false);
    expect(a.nonce.equals(b.nonce)).toBe(false);
    expect(a.ciphertext.equals(b.ciphertext)).toBe(false);
  });

  it('refuses every single-byte change of the wrapped key, nonce, ciphertext or tag', async () => {
    const e = parseEnvelope(await seal(ring1, ctx, value));
    for (const part of ['wrappedKey', 'nonce', 'ciphertext', 'tag'] as const) {
      for (let i = 0; i < e[part].length; i++) {
        const changed = Buffer.from(e[part]);
        changed[i]! ^= 0x01;
        const tampered = formatEnvelope({ ...e, [part]: changed });
        expect(await codeOf(() => open(ring1, ctx, tampered)), `${part}[${i}]`).toBe(
          'VAULT_SECRET_UNREADABLE',
        );
      }
    }
  });

  it('refuses a ciphertext moved to another workspace, purpose, record or revision', async () => {
    const sealed = await seal(ring1, ctx, value);
    for (const moved of [
      { ...ctx, workspaceId: 'ws_2' },
      { ...ctx, purpose: 'meta.app_secret' },
      { ...ctx, recordId: 'waba_2' },
      { ...ctx, revision: 2 },
    ])
      expect(await codeOf(() => open(ring1, moved, sealed)), JSON.stringify(moved)).toBe(
        'VAULT_SECRET_UNREADABLE',
      );
  });

  it('refuses a relabelled KEK version and malformed stored forms', async () => {
    const sealed = await seal(ring2, ctx, value);
    expect(await codeOf(() => open(ring2, ctx, sealed.replace('vault:v2:', 'vault:v1:')))).toBe(
      'VAULT_SECRET_UNREADABLE',
    );
    for (const bad of [
      '',
      'vault:v1',
      'plain:v1:a:b:c:d',
      sealed.replace('vault:v2:', 'vault:v0:'),
      `${sealed}:x`,
    ])
      expect(await codeOf(() => open(ring2, ctx, bad)), bad).toBe('VAULT_SECRET_UNREADABLE');
  });

  it('after a rotation seals with the new version while old versions still open', async () => {
    const old = await seal(ring1, ctx, value);
    const fresh = await seal(ring2, ctx, value);
    expect(fresh).toMatch(/^vault:v2:/);
    expect(await open(ring2, ctx, old)).toBe(value);
    expect(await open(ring2, ctx, fresh)).toBe(value);
  });

  it('rewraps the data key under the newest version without touching the value ciphertext', async () => {
    const old = await seal(ring1, ctx, value);
    const rewrapped = await rewrap(ring2, ctx, old);
    expect(rewrapped).toMatch(/^vault:v2:/);
    const [a, b] = [parseEnvelope(old), parseEnvelope(rewrapped)];
    expect(b.ciphertext.equals(a.ciphertext)).toBe(true);
    expect(b.nonce.equals(a.nonce)).toBe(true);
    expect(b.wrappedKey.equals(a.wrappedKey)).toBe(false);
    expect(await open(ring2only, ctx, rewrapped)).toBe(value);
  });

  it('refuses ciphertexts under a version below the minimum with VAULT_KEY_RETIRED', async () => {
    const old = await seal(ring1, ctx, value);
    expect(await codeOf(() => open(ring2only, ctx, old))).toBe('VAULT_KEY_RETIRED');
  });

  it('refuses a version that is not configured', async () => {
    const fresh = await seal(ring2, ctx, value);
    expect(await codeOf(() => open(ring1, ctx, fresh))).toBe('VAULT_SECRET_UNREADABLE');
  });
});

describe('key ring', async () => {
  it('refuses a master key that is not 64 hex characters, without echoing it', async () => {
    for (const masterKey of ['', 'abc', `${k1}0`, `${k1.slice(0, 63)}g`]) {
      const error = (() => {
        try {
          createKeyRing({ masterKey, extra: '', minVersion: 1 });
        } catch (e) {
          return e as Error;
        }
      })();
      expect(error).toBeInstanceOf(KeyRingError);
      expect(error?.message).toMatch(/TOKEN_MASTER_KEY must be exactly 64 hex characters/);
      if (masterKey.length > 3) expect(error?.message).not.toContain(masterKey);
    }
  });

  it('takes the highest version as current and refuses a minimum above it or a duplicate version', async () => {
    const ring = createKeyRing({ masterKey: k1, extra: `3=${k2},2=${hex()}`, minVersion: 2 });
    expect(ring.current).toBe(3);
    expect(ring.versions).toEqual([1, 2, 3]);
    expect(() => createKeyRing({ masterKey: k1, extra: '', minVersion: 2 })).toThrow(
      /VAULT_MIN_KEY_VERSION is 2/,
    );
    expect(() => createKeyRing({ masterKey: k1, extra: `2=${k2},2=${k2}`, minVersion: 1 })).toThrow(/twice/);
    expect(() => createKeyRing({ masterKey: k1, extra: `1=${k2}`, minVersion: 1 })).toThrow(/start at 2/);
  });
});

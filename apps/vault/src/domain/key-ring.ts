import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/**
 * The key-encryption keys (KEKs) vault wraps data keys with, by version. The newest version
 * seals every new secret; every version from `minVersion` up still opens; older versions
 * are retired (their ciphertexts are refused until rewrapped).
 *
 * Keys come from configuration only (`TOKEN_MASTER_KEY` is version 1, `VAULT_KEYS` adds
 * `2=<hex>,3=<hex>`): no key is ever derived from an id.
 */
/**
 * One key-encryption key: wraps and unwraps 32-byte data keys, authenticating `aad`.
 * A local key does AES-256-GCM in this process; a KMS key asks AWS KMS (the key never leaves it).
 */
export interface Kek {
  readonly kind: 'local' | 'kms';
  wrap(dataKey: Buffer, aad: Buffer): Promise<Buffer>;
  /** Throws when `wrapped` or `aad` fails authentication. */
  unwrap(wrapped: Buffer, aad: Buffer): Promise<Buffer>;
}

export interface KeyRing {
  /** The version new secrets are sealed with (the highest configured). */
  readonly current: number;
  /** The lowest version that still opens. */
  readonly minVersion: number;
  /** The KEK of `version`, or undefined when it is not configured. */
  kek(version: number): Kek | undefined;
  /** Every configured version, ascending. */
  readonly versions: readonly number[];
}

/** Why a key ring cannot be built; the message names the variable to fix. */
export class KeyRingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KeyRingError';
  }
}

const HEX_KEY = /^[0-9a-fA-F]{64}$/;

/**
 * Builds the ring from the configured keys. `extra` is `VAULT_KEYS` (`2=<64 hex>,3=<64 hex>`,
 * may be empty). Never echoes a key in an error.
 */
export function createKeyRing(options: {
  masterKey: string;
  extra: string;
  minVersion: number;
  /** KMS-held versions (`VAULT_KMS_KEYS`), already parsed: version -> its KEK. */
  kms?: ReadonlyMap<number, Kek>;
}): KeyRing {
  const keys = new Map<number, Kek>();
  if (!HEX_KEY.test(options.masterKey))
    throw new KeyRingError('TOKEN_MASTER_KEY must be exactly 64 hex characters (openssl rand -hex 32)');
  keys.set(1, localKek(Buffer.from(options.masterKey, 'hex')));
  for (const entry of options.extra.split(',').filter((e) => e.trim() !== '')) {
    const match = /^\s*([0-9]{1,6})=([0-9a-fA-F]{64})\s*$/.exec(entry);
    if (!match)
      throw new KeyRingError('VAULT_KEYS must be version=<64 hex>,… (e.g. 2=$(openssl rand -hex 32))');
    const version = Number(match[1]);
    if (version < 2) throw new KeyRingError('VAULT_KEYS versions start at 2 (version 1 is TOKEN_MASTER_KEY)');
    if (keys.has(version)) throw new KeyRingError(`VAULT_KEYS lists version ${version} twice`);
    keys.set(version, localKek(Buffer.from(match[2]!, 'hex')));
  }
  for (const [version, kek] of options.kms ?? []) {
    if (keys.has(version))
      throw new KeyRingError(
        `key version ${version} is in both VAULT_KMS_KEYS and the local keys; give each version one key`,
      );
    keys.set(version, kek);
  }
  const versions = [...keys.keys()].sort((a, b) => a - b);
  const current = versions.at(-1)!;
  if (options.minVersion > current)
    throw new KeyRingError(
      `VAULT_MIN_KEY_VERSION is ${options.minVersion} but the newest configured key is version ${current}; add the key to VAULT_KEYS or lower the minimum`,
    );
  return {
    current,
    minVersion: options.minVersion,
    versions,
    kek: (version) => keys.get(version),
  };
}

const NONCE = 12;
const TAG = 16;

/** A KEK held in this process: AES-256-GCM with a random 96-bit nonce (nonce | wrapped | tag). */
export function localKek(key: Buffer): Kek {
  return {
    kind: 'local',
    async wrap(dataKey, aad) {
      const nonce = randomBytes(NONCE);
      const cipher = createCipheriv('aes-256-gcm', key, nonce);
      cipher.setAAD(aad);
      const wrapped = Buffer.concat([cipher.update(dataKey), cipher.final()]);
      return Buffer.concat([nonce, wrapped, cipher.getAuthTag()]);
    },
    async unwrap(wrapped, aad) {
      if (wrapped.length <= NONCE + TAG) throw new Error('wrapped key too short');
      const decipher = createDecipheriv('aes-256-gcm', key, wrapped.subarray(0, NONCE), {
        authTagLength: TAG,
      });
      decipher.setAAD(aad);
      decipher.setAuthTag(wrapped.subarray(wrapped.length - TAG));
      return Buffer.concat([
        decipher.update(wrapped.subarray(NONCE, wrapped.length - TAG)),
        decipher.final(),
      ]);
    },
  };
}

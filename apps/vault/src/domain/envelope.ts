import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { AppError } from '@wapi/contracts';
import type { Kek, KeyRing } from './key-ring';

/**
 * Envelope encryption. Each value gets its own random 256-bit data key (DEK) and is sealed
 * with AES-256-GCM under it (random 96-bit nonce); the DEK is wrapped with AES-256-GCM under
 * the ring's current key-encryption key (KEK). Both layers authenticate the secret's
 * context (workspace, purpose, record, revision), so a ciphertext copied to another
 * workspace, purpose, record or revision (a rollback) fails to open.
 *
 * Stored form (one string, base64url parts):
 * `vault:v<kek version>:<wrapped DEK>:<nonce>:<ciphertext>:<tag>`; the wrapped DEK is
 * `nonce|ciphertext|tag` under a local KEK, or a KMS ciphertext blob under a KMS KEK (whose
 * encryption context carries the same authenticated data).
 */

/** What a ciphertext is bound to. */
export interface SecretContext {
  workspaceId: string;
  purpose: string;
  recordId: string;
  revision: number;
}

const NONCE = 12;
const TAG = 16;
const DEK = 32;
/** A locally wrapped key is 60 bytes; a KMS ciphertext blob is longer, but bounded. */
const WRAPPED_MIN = NONCE + DEK + TAG;
const WRAPPED_MAX = 1_024;

/** Unambiguous AAD: a JSON array, so no choice of ids can make two contexts collide. */
function valueAad(ctx: SecretContext): Buffer {
  return Buffer.from(
    JSON.stringify(['wapi.vault.value.v1', ctx.workspaceId, ctx.purpose, ctx.recordId, ctx.revision]),
  );
}

function dekAad(ctx: SecretContext, kekVersion: number): Buffer {
  return Buffer.from(
    JSON.stringify([
      'wapi.vault.dek.v1',
      kekVersion,
      ctx.workspaceId,
      ctx.purpose,
      ctx.recordId,
      ctx.revision,
    ]),
  );
}

function gcmSeal(
  key: Buffer,
  plaintext: Buffer,
  aad: Buffer,
): { nonce: Buffer; ciphertext: Buffer; tag: Buffer } {
  const nonce = randomBytes(NONCE);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(aad);
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return { nonce, ciphertext, tag: cipher.getAuthTag() };
}

/** Throws (OpenSSL "Unsupported state…") when the tag does not verify. */
function gcmOpen(key: Buffer, nonce: Buffer, ciphertext: Buffer, tag: Buffer, aad: Buffer): Buffer {
  const decipher = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG });
  decipher.setAAD(aad);
  decipher.setAuthTag(tag);
  return Buffer.concat([decipher.update(ciphertext), decipher.final()]);
}

/** The parts of a stored ciphertext. */
export interface Envelope {
  kekVersion: number;
  /** The data key as wrapped by the KEK (format up to the KEK). */
  wrappedKey: Buffer;
  nonce: Buffer;
  ciphertext: Buffer;
  tag: Buffer;
}

const unreadable = (why: string) => new AppError('VAULT_SECRET_UNREADABLE', undefined, { reason: why });

const B64URL = /^[A-Za-z0-9_-]*$/;

/** Parses the stored form; throws VAULT_SECRET_UNREADABLE for anything malformed. */
export function parseEnvelope(sealed: string): Envelope {
  const parts = sealed.split(':');
  const [scheme, version, wrapped, nonce, ciphertext, tag] = parts;
  const match = /^v([1-9][0-9]{0,5})$/.exec(version ?? '');
  if (parts.length !== 6 || scheme !== 'vault' || !match) throw unreadable('not a vault envelope');
  for (const part of [wrapped, nonce, ciphertext, tag])
    if (!B64URL.test(part!)) throw unreadable('bad encoding');
  const envelope = {
    kekVersion: Number(match[1]),
    wrappedKey: Buffer.from(wrapped!, 'base64url'),
    nonce: Buffer.from(nonce!, 'base64url'),
    ciphertext: Buffer.from(ciphertext!, 'base64url'),
    tag: Buffer.from(tag!, 'base64url'),
  };
  if (
    envelope.wrappedKey.length < WRAPPED_MIN ||
    envelope.wrappedKey.length > WRAPPED_MAX ||
    envelope.nonce.length !== NONCE ||
    envelope.tag.length !== TAG
  )
    throw unreadable('bad part length');
  return envelope;
}

export function formatEnvelope(e: Envelope): string {
  const b = (x: Buffer) => x.toString('base64url');
  return `vault:v${e.kekVersion}:${b(e.wrappedKey)}:${b(e.nonce)}:${b(e.ciphertext)}:${b(e.tag)}`;
}

/** The KEK for opening `version`, refusing retired and unknown versions. */
function kekFor(ring: KeyRing, version: number): Kek {
  if (version < ring.minVersion)
    throw new AppError(
      'VAULT_KEY_RETIRED',
      `The secret is sealed under key version ${version}, below the minimum ${ring.minVersion}; run the rewrap job before raising VAULT_MIN_KEY_VERSION, or store the secret again.`,
    );
  const kek = ring.kek(version);
  if (!kek) throw unreadable(`key version ${version} is not configured`);
  return kek;
}

async function unwrapKey(kek: Kek, kekVersion: number, wrapped: Buffer, ctx: SecretContext): Promise<Buffer> {
  let dek: Buffer;
  try {
    dek = await kek.unwrap(wrapped, dekAad(ctx, kekVersion));
  } catch (error) {
    // A KMS outage is not a tampered secret: let it through as the failure it is.
    if (kek.kind === 'kms' && !isKmsRefusal(error)) throw error;
    throw unreadable('data key failed authentication');
  }
  if (dek.length !== DEK) throw unreadable('data key has the wrong length');
  return dek;
}

/** KMS's ways of saying "this ciphertext or context is not right" (as opposed to "KMS is down"). */
function isKmsRefusal(error: unknown): boolean {
  const name = (error as { name?: string } | null)?.name ?? '';
  return ['InvalidCiphertextException', 'IncorrectKeyException', 'ValidationException'].includes(name);
}

/**
 * Seals `plaintext` for `ctx` under the ring's current KEK. The caller has counted this use
 * of the KEK (see KekUsage) before calling.
 */
export async function seal(ring: KeyRing, ctx: SecretContext, plaintext: string): Promise<string> {
  const kekVersion = ring.current;
  const kek = ring.kek(kekVersion)!;
  const dek = randomBytes(DEK);
  try {
    const sealed = gcmSeal(dek, Buffer.from(plaintext, 'utf8'), valueAad(ctx));
    return formatEnvelope({
      kekVersion,
      wrappedKey: await kek.wrap(dek, dekAad(ctx, kekVersion)),
      ...sealed,
    });
  } finally {
    dek.fill(0);
  }
}

/** Opens a stored value; VAULT_KEY_RETIRED below the minimum version, VAULT_SECRET_UNREADABLE when anything fails authentication. */
export async function open(ring: KeyRing, ctx: SecretContext, sealed: string): Promise<string> {
  const e = parseEnvelope(sealed);
  const dek = await unwrapKey(kekFor(ring, e.kekVersion), e.kekVersion, e.wrappedKey, ctx);
  try {
    return gcmOpen(dek, e.nonce, e.ciphertext, e.tag, valueAad(ctx)).toString('utf8');
  } catch {
    throw unreadable('value failed authentication');
  } finally {
    dek.fill(0);
  }
}

/**
 * Re-wraps the data key of `sealed` under the ring's current KEK. The value's ciphertext is
 * kept as it is: its plaintext is never produced. The caller has counted this KEK use.
 */
export async function rewrap(ring: KeyRing, ctx: SecretContext, sealed: string): Promise<string> {
  const e = parseEnvelope(sealed);
  if (e.kekVersion === ring.current) return sealed;
  const dek = await unwrapKey(kekFor(ring, e.kekVersion), e.kekVersion, e.wrappedKey, ctx);
  try {
    const wrappedKey = await ring.kek(ring.current)!.wrap(dek, dekAad(ctx, ring.current));
    return formatEnvelope({ ...e, kekVersion: ring.current, wrappedKey });
  } finally {
    dek.fill(0);
  }
}

/** The KEK version a stored value names. */
export function kekVersionOf(sealed: string): number {
  return parseEnvelope(sealed).kekVersion;
}

import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign,
  verify,
} from 'node:crypto';
import { Type } from '@sinclair/typebox';
import { AppError } from '@wapi/contracts';
import type {
  FastifyBaseLogger,
  FastifyInstance,
  FastifyPluginAsync,
  FastifyReply,
  FastifyRequest,
  FastifyTypeProvider,
  FastifyTypeProviderDefault,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerBase,
  RawServerDefault,
} from 'fastify';
import { ConfigError } from './config';

declare module 'fastify' {
  interface FastifyRequest {
    /** The calling service, set by an internal-auth hook. */
    caller?: string;
  }
}

/** How long a service token lives. Short, because it is minted per call and never stored. */
export const INTERNAL_TOKEN_TTL_SECONDS = 60;

/** How far apart two services' clocks may be before their tokens are refused. */
export const INTERNAL_CLOCK_SKEW_SECONDS = 5;

// ---------------------------------------------------------------------------------------
// Keys
// ---------------------------------------------------------------------------------------

/** PKCS#8 DER of an Ed25519 private key is this prefix followed by the 32-byte seed. */
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
/** SPKI DER of an Ed25519 public key is this prefix followed by the 32 raw bytes. */
const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

const KEY_32 = '[A-Za-z0-9_-]{43}';
const SERVICE = '[a-z][a-z0-9-]{0,62}';
const KEY_ENTRY = `${SERVICE}=${KEY_32}`;

const PRIVATE_KEY_HELP =
  "this service's Ed25519 private key: the 32-byte seed as base64url without padding (43 characters), " +
  'e.g. from node -e "console.log(crypto.randomBytes(32).toString(\'base64url\'))"';
const PUBLIC_KEYS_HELP =
  'comma-separated service=<public key> entries, one per service allowed to call this one; each key ' +
  "is the caller's raw 32-byte Ed25519 public key as base64url without padding (43 characters), " +
  "as printed by publicKeyOf(<the caller's INTERNAL_AUTH_PRIVATE_KEY>)";

/**
 * Config properties for internal auth; spread them into a service's config schema.
 * A value that passes these patterns but is not a usable key is caught by
 * {@link parseInternalKeys}.
 */
export const InternalAuthConfig = {
  INTERNAL_AUTH_PRIVATE_KEY: Type.String({ pattern: `^${KEY_32}$`, description: PRIVATE_KEY_HELP }),
  // Unset or empty for a service nobody calls.
  INTERNAL_AUTH_PUBLIC_KEYS: Type.String({
    pattern: `^(\\s*${KEY_ENTRY}(\\s*,\\s*${KEY_ENTRY})*\\s*)?$`,
    default: '',
    description: PUBLIC_KEYS_HELP,
  }),
};

/** A service's parsed internal-auth keys: its own signing key and its callers' public keys. */
export interface InternalKeys {
  /** This service's Ed25519 private key; signs the tokens it sends. */
  readonly privateKey: KeyObject;
  /**
   * Caller service -> its Ed25519 public key. Holding a caller's key is what allows that
   * caller: a token whose `iss` has no key here is refused.
   */
  readonly callers: ReadonlyMap<string, KeyObject>;
}

/** 32 bytes from canonical unpadded base64url, or undefined (Buffer's decoder is lenient). */
function decodeKey32(text: string): Buffer | undefined {
  if (!new RegExp(`^${KEY_32}$`).test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64url');
  // The 43rd character carries 2 spare bits; a value with them set decodes to the same
  // key as another string, so accept only the canonical spelling.
  return bytes.length === 32 && bytes.toString('base64url') === text ? bytes : undefined;
}

function privateKeyFromSeed(seed: Buffer): KeyObject {
  return createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: 'der', type: 'pkcs8' });
}

function publicKeyFromRaw(raw: Buffer): KeyObject {
  return createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, raw]), format: 'der', type: 'spki' });
}

function rawPublicKey(key: KeyObject): string {
  // The SPKI DER ends with the 32 raw key bytes.
  return key.export({ format: 'der', type: 'spki' }).subarray(-32).toString('base64url');
}

/** A new key pair in the `INTERNAL_AUTH_PRIVATE_KEY` / `INTERNAL_AUTH_PUBLIC_KEYS` formats. */
export function generateServiceKeyPair(): { privateKey: string; publicKey: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privateKey: privateKey.export({ format: 'der', type: 'pkcs8' }).subarray(-32).toString('base64url'),
    publicKey: rawPublicKey(publicKey),
  };
}

/**
 * The public key (base64url, 43 characters) belonging to a private key in the
 * `INTERNAL_AUTH_PRIVATE_KEY` format: what the services this one calls configure for it.
 */
export function publicKeyOf(privateKey: string): string {
  const seed = decodeKey32(privateKey);
  if (!seed) throw new TypeError(`expected ${PRIVATE_KEY_HELP}`);
  return rawPublicKey(createPublicKey(privateKeyFromSeed(seed)));
}

// Ed25519 public-key validation. OpenSSL imports any 32 bytes as a public key, including
// encodings that are not on the curve and points of small order. The latter are
// dangerous: with the all-zero "key", an all-zero signature verifies for EVERY message,
// so a misconfigured entry would let anyone claim to be that caller. Checking a point is
// a few BigInt operations, done once at start-up.
const P = 2n ** 255n - 19n;
const D = mod(-121665n * inverse(121666n));
const SQRT_M1 = power(2n, (P - 1n) / 4n);

function mod(a: bigint): bigint {
  const r = a % P;
  return r < 0n ? r + P : r;
}

function power(base: bigint, exponent: bigint): bigint {
  let result = 1n;
  let b = mod(base);
  let e = exponent;
  while (e > 0n) {
    if (e & 1n) result = (result * b) % P;
    b = (b * b) % P;
    e >>= 1n;
  }
  return result;
}

function inverse(a: bigint): bigint {
  return power(a, P - 2n);
}

/** Edwards addition (a = -1); complete for this curve, so it also doubles. */
function add([x1, y1]: [bigint, bigint], [x2, y2]: [bigint, bigint]): [bigint, bigint] {
  const t = mod(D * x1 * x2 * y1 * y2);
  return [mod((x1 * y2 + y1 * x2) * inverse(1n + t)), mod((y1 * y2 + x1 * x2) * inverse(1n - t))];
}

/** Why 32 raw bytes are not a usable Ed25519 public key, or undefined if they are. */
function publicKeyProblem(raw: Buffer): string | undefined {
  const xIsOdd = (raw[31]! & 0x80) !== 0;
  const bytes = Buffer.from(raw);
  bytes[31]! &= 0x7f;
  const y = BigInt(`0x${Buffer.from(bytes).reverse().toString('hex')}`);
  if (y >= P) return 'not a canonical curve point encoding';
  // RFC 8032 §5.1.3: x² = (y² - 1) / (d·y² + 1).
  const u = mod(y * y - 1n);
  const v = mod(D * y * y + 1n);
  let x = mod(u * power(v, 3n) * power(u * power(v, 7n), (P - 5n) / 8n));
  const vx2 = mod(v * x * x);
  if (vx2 === mod(-u)) x = mod(x * SQRT_M1);
  else if (vx2 !== u) return 'not a point on the Ed25519 curve';
  if (x === 0n && xIsOdd) return 'not a canonical curve point encoding';
  if ((x & 1n) !== (xIsOdd ? 1n : 0n)) x = P - x;
  let point: [bigint, bigint] = [x, y];
  for (let i = 0; i < 3; i++) point = add(point, point);
  // Multiplying by the cofactor 8 reaches the identity (0, 1) only for small-order points.
  if (point[0] === 0n && point[1] === 1n) return 'a weak (small-order) point that no real key produces';
  return undefined;
}

/**
 * Parses the internal-auth variables into keys. Throws {@link ConfigError} naming the
 * variable when a value is not a usable key, even if it passed the config pattern.
 */
export function parseInternalKeys(
  service: string,
  env: { INTERNAL_AUTH_PRIVATE_KEY: string; INTERNAL_AUTH_PUBLIC_KEYS?: string | undefined },
): InternalKeys {
  const problems: string[] = [];
  const seed = decodeKey32(env.INTERNAL_AUTH_PRIVATE_KEY);
  // Never echo the private key's value, not even a malformed one.
  if (!seed) problems.push(`INTERNAL_AUTH_PRIVATE_KEY is malformed: expected ${PRIVATE_KEY_HELP}`);
  const callers = new Map<string, KeyObject>();
  const list = env.INTERNAL_AUTH_PUBLIC_KEYS?.trim() ?? '';
  for (const entry of list === '' ? [] : list.split(',')) {
    const match = new RegExp(`^(${SERVICE})=(.*)$`).exec(entry.trim());
    if (!match) {
      problems.push(
        `INTERNAL_AUTH_PUBLIC_KEYS is malformed: entry ${JSON.stringify(entry.trim())} is not service=<key>; expected ${PUBLIC_KEYS_HELP}`,
      );
      continue;
    }
    const [, name, text] = match as unknown as [string, string, string];
    const raw = decodeKey32(text);
    const problem = raw ? publicKeyProblem(raw) : `expected 43 base64url characters (32 bytes)`;
    if (problem || !raw) {
      problems.push(
        `INTERNAL_AUTH_PUBLIC_KEYS is malformed: the key for ${name} is ${problem}; set it to publicKeyOf(<${name}'s INTERNAL_AUTH_PRIVATE_KEY>)`,
      );
    } else if (callers.has(name)) {
      problems.push(
        `INTERNAL_AUTH_PUBLIC_KEYS is malformed: ${name} is listed twice; keep one entry per service`,
      );
    } else {
      callers.set(name, publicKeyFromRaw(raw));
    }
  }
  if (problems.length > 0 || !seed) throw new ConfigError(service, problems);
  return { privateKey: privateKeyFromSeed(seed), callers };
}

// ---------------------------------------------------------------------------------------
// Tokens
// ---------------------------------------------------------------------------------------

export interface InternalAuthOptions {
  /** This service's name: the `iss` of tokens it mints and the `aud` it accepts. */
  service: string;
  /** From {@link parseInternalKeys}. */
  keys: InternalKeys;
  /** Clock in milliseconds (default `Date.now`); tests inject one. */
  now?: () => number;
}

export interface InternalAuth {
  /** A bearer token for one call from this service to `audience`. Mint one per call. */
  tokenFor(audience: string): string;
  /** Authorization header value for a call to `audience`. */
  headerFor(audience: string): string;
  /**
   * Fastify `onRequest` hook: 401 `INTERNAL_AUTH_REQUIRED` without an Authorization
   * header, 401 `INTERNAL_AUTH_INVALID` unless it carries a valid token addressed to this
   * service, signed by a caller whose public key is configured. Sets `request.caller`.
   */
  require: (request: FastifyRequest, reply: FastifyReply) => Promise<void>;
}

const HEADER = Buffer.from(JSON.stringify({ alg: 'EdDSA', typ: 'JWT' })).toString('base64url');
/** base64url header . payload . 64-byte signature (86 characters); bounded against abuse. */
const BEARER = /^Bearer ([A-Za-z0-9_-]{1,256})\.([A-Za-z0-9_-]{1,1024})\.([A-Za-z0-9_-]{86})$/;

function decodeJson(segment: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    return value !== null && typeof value === 'object' && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

const isTime = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) > 0;

/**
 * Service-to-service authentication with one Ed25519 key pair per service: each service
 * signs EdDSA JWTs with its own private key (`iss` = itself, `aud` = the target, valid for
 * {@link INTERNAL_TOKEN_TTL_SECONDS}), and accepts only tokens addressed to it from
 * callers whose public key it holds. A compromised service can therefore only speak as
 * itself, and only to services that list it.
 */
export function createInternalAuth(options: InternalAuthOptions): InternalAuth {
  const { service, keys } = options;
  const now = options.now ?? Date.now;

  function tokenFor(audience: string): string {
    const iat = Math.floor(now() / 1000);
    const payload = Buffer.from(
      JSON.stringify({ iss: service, aud: audience, iat, exp: iat + INTERNAL_TOKEN_TTL_SECONDS }),
    ).toString('base64url');
    const signature = sign(null, Buffer.from(`${HEADER}.${payload}`), keys.privateKey);
    return `${HEADER}.${payload}.${signature.toString('base64url')}`;
  }

  /** The caller's name, or why the token is refused (a fixed phrase, never token content). */
  function check(authorization: string): { caller: string } | { refused: string } {
    const match = BEARER.exec(authorization);
    if (!match) return { refused: 'not a Bearer JWT' };
    const [, headerPart, payloadPart, signaturePart] = match as unknown as [string, string, string, string];
    const header = decodeJson(headerPart);
    // Only EdDSA: `none`, HS256 keyed with a public key and every other algorithm are out.
    // No other header fields are used, so none are accepted (no kid/jwk/jku/crit games).
    if (!header || header.alg !== 'EdDSA' || Object.keys(header).some((k) => k !== 'alg' && k !== 'typ'))
      return { refused: 'header is not {alg: EdDSA}' };
    if (header.typ !== undefined && header.typ !== 'JWT') return { refused: 'typ is not JWT' };
    const claims = decodeJson(payloadPart);
    if (!claims) return { refused: 'payload is not a JSON object' };
    const { iss, aud, iat, exp, nbf } = claims;
    if (typeof iss !== 'string') return { refused: 'iss missing' };
    // The key is chosen by the claimed issuer; a wrong claim then fails the signature.
    const key = keys.callers.get(iss);
    if (!key) return { refused: 'issuer is not an allowed caller' };
    const signature = Buffer.from(signaturePart, 'base64url');
    if (!verify(null, Buffer.from(`${headerPart}.${payloadPart}`), key, signature))
      return { refused: 'bad signature' };
    // A single string: an array audience is a token meant for several services at once.
    if (aud !== service) return { refused: 'addressed to another service' };
    if (!isTime(iat) || !isTime(exp)) return { refused: 'iat or exp missing' };
    const nowSeconds = now() / 1000;
    if (iat > nowSeconds + INTERNAL_CLOCK_SKEW_SECONDS) return { refused: 'issued in the future' };
    if (nbf !== undefined && (typeof nbf !== 'number' || nbf > nowSeconds + INTERNAL_CLOCK_SKEW_SECONDS))
      return { refused: 'not yet valid' };
    // Tokens are minted per call: refuse one whose minter chose a longer life.
    if (exp <= iat || exp - iat > INTERNAL_TOKEN_TTL_SECONDS) return { refused: 'lifetime too long' };
    if (nowSeconds >= exp + INTERNAL_CLOCK_SKEW_SECONDS) return { refused: 'expired' };
    return { caller: iss };
  }

  return {
    tokenFor,
    headerFor: (audience) => `Bearer ${tokenFor(audience)}`,
    async require(request) {
      const header = request.headers.authorization;
      if (!header) throw new AppError('INTERNAL_AUTH_REQUIRED');
      const result = check(header);
      if ('refused' in result) {
        // The reason helps an operator fix a misconfigured caller; the answer stays the
        // catalogue text so nothing of the token is echoed.
        request.log.warn({ reason: result.refused }, 'internal token refused');
        throw new AppError('INTERNAL_AUTH_INVALID');
      }
      request.caller = result.caller;
    },
  };
}

// ---------------------------------------------------------------------------------------
// Registering internal routes
// ---------------------------------------------------------------------------------------

/** A route registered through {@link registerInternal}. */
export interface InternalRoute {
  method: string;
  url: string;
}

// Keyed by the HTTP server, which every encapsulated context of one Fastify app shares,
// so `internalRoutes` works with the root app whatever scope registered the routes.
const ROUTES = new WeakMap<object, InternalRoute[]>();

export interface RegisterInternalOptions {
  auth: InternalAuth;
  /** Path prefix of the internal routes (default `/internal`). */
  prefix?: string;
}

/**
 * Registers `plugin` encapsulated under `prefix` (default `/internal`) with `auth.require`
 * as an `onRequest` hook, so every route it or its nested plugins add requires a valid
 * service token. Each route is recorded for {@link internalRoutes}.
 */
export function registerInternal<
  RawServer extends RawServerBase = RawServerDefault,
  Logger extends FastifyBaseLogger = FastifyBaseLogger,
  TypeProvider extends FastifyTypeProvider = FastifyTypeProviderDefault,
>(
  app: FastifyInstance<
    RawServer,
    RawRequestDefaultExpression<RawServer>,
    RawReplyDefaultExpression<RawServer>,
    Logger,
    TypeProvider
  >,
  plugin: FastifyPluginAsync<Record<never, never>, RawServer, TypeProvider, Logger>,
  options: RegisterInternalOptions,
): void {
  const routes = ROUTES.get(app.server) ?? [];
  ROUTES.set(app.server, routes);
  app.register(
    async (scope) => {
      // Added before `plugin` is registered, and inherited by its nested plugins (even
      // fastify-plugin ones, which only break out into this scope), so no route escapes.
      scope.addHook('onRequest', options.auth.require);
      scope.addHook('onRoute', (route) => {
        for (const method of [route.method].flat()) routes.push({ method, url: route.url });
      });
      await scope.register(plugin);
    },
    { prefix: options.prefix ?? '/internal' },
  );
}

/**
 * Every route registered through {@link registerInternal} on this app (after
 * `await app.ready()`), including the HEAD routes Fastify adds for GETs.
 */
export function internalRoutes(app: { readonly server: object }): InternalRoute[] {
  return [...(ROUTES.get(app.server) ?? [])];
}

import type { FastifyRequest } from 'fastify';
import pino, { type LoggerOptions } from 'pino';

// ---------------------------------------------------------------------------------------
// Which keys are secret
// ---------------------------------------------------------------------------------------

/**
 * Key names hold a secret when, lower-cased with `_`, `-` and `.` removed, they CONTAIN
 * one of these (so `accessToken`, `refresh_tokens`, `X-Api-Key`, `aws_secret_access_key`,
 * `wrappedDataKeys`, `dbPassword` all match). Substrings, because a new field named after
 * a secret must be redacted without anyone remembering to list it.
 */
const SECRET_SUBSTRINGS = [
  'token',
  'secret',
  'password',
  'passwd',
  'passphrase',
  'authorization',
  'cookie',
  'encryptionkey',
  'masterkey',
  'datakey',
  'secretkey',
  'privatekey',
  'plaintext',
  'credential',
  'apikey',
  'signature',
];

/**
 * Too short to match as substrings (`codeKey`, `nodeKind` and `modeKey` contain "dek"):
 * these match only as a whole camelCase, `_`, `-` or `.` segment, e.g. `dek`,
 * `wrappedDek`, `kek_material`, `DEKs`, `PIN`.
 */
const SECRET_SEGMENTS = new Set(['dek', 'deks', 'kek', 'keks', 'pin']);

/**
 * Names that match the rules above but are not secret (normalised like the substrings):
 * identifiers, versions and counts that operators need in logs to debug key rotation,
 * idempotency and token accounting.
 */
const NOT_SECRET = new Set([
  'keyid',
  'kekid',
  'dekid',
  'keyversion',
  'kekversion',
  'dekversion',
  'idempotencykey',
  'tokentype',
  'tokencount',
  'tokenexpiresat',
  'secretref',
  'secretid',
]);

/** Classifications are cached: a service logs the same few hundred key names forever. */
const keyCache = new Map<string, boolean>();
const KEY_CACHE_LIMIT = 10_000;

/**
 * Whether a key's value must never be logged: see {@link SECRET_SUBSTRINGS},
 * {@link SECRET_SEGMENTS} and the {@link NOT_SECRET} allow-list.
 */
export function isSecretKey(key: string): boolean {
  const cached = keyCache.get(key);
  if (cached !== undefined) return cached;
  const normalised = key.toLowerCase().replace(/[-_.]/g, '');
  const secret =
    !NOT_SECRET.has(normalised) &&
    (SECRET_SUBSTRINGS.some((s) => normalised.includes(s)) ||
      key
        .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
        .split(/[\s_.-]+/)
        .some((segment) => SECRET_SEGMENTS.has(segment.toLowerCase())));
  if (keyCache.size >= KEY_CACHE_LIMIT) keyCache.clear();
  keyCache.set(key, secret);
  return secret;
}

// ---------------------------------------------------------------------------------------
// Strings: URL credentials and secret query parameters
// ---------------------------------------------------------------------------------------

/** `scheme://user:password@host` -> `scheme://user:[REDACTED]@host` (Redis and MongoDB URLs). */
const URL_CREDENTIALS = /\b([a-z][a-z0-9+.-]*:\/\/)([^:@/\s]*):([^@/\s]+)@/gi;

/** A query parameter anywhere in a string: `?name=value` or `&name=value`. */
const QUERY_PARAM = /([?&;])([^=&#?\s"'<>]+)=([^&#\s"'<>]*)/g;

/**
 * Query parameter names that carry a secret but would not match {@link isSecretKey}:
 * OAuth authorization codes, Meta's `key`, pre-signed URL signatures.
 */
const SECRET_QUERY_NAMES = new Set(['code', 'key', 'sig', 'pin', 'hub.verify_token']);

function isSecretQueryName(name: string): boolean {
  let decoded = name;
  try {
    decoded = decodeURIComponent(name);
  } catch {
    // A malformed escape: classify the raw name.
  }
  return SECRET_QUERY_NAMES.has(decoded.toLowerCase()) || isSecretKey(decoded);
}

/**
 * Masks secrets inside a string: passwords in `scheme://user:pass@host` URLs and the
 * values of secret query parameters (`access_token`, `client_secret`, `code`, `token`,
 * `key`, `signature`, `hub.verify_token`, …) in any URL or query string it contains,
 * e.g. `…/v21.0/x?access_token=abc&fields=y` -> `…?access_token=[REDACTED]&fields=y`.
 */
export function redactString(value: string): string {
  let out = value;
  if (out.includes('@')) out = out.replace(URL_CREDENTIALS, '$1$2:[REDACTED]@');
  if (out.includes('=')) {
    out = out.replace(QUERY_PARAM, (all, sep: string, name: string) =>
      isSecretQueryName(name) ? `${sep}${name}=[REDACTED]` : all,
    );
  }
  return out;
}

/** Replaces the values of secret-bearing query parameters in a URL. */
export function redactUrl(url: string): string {
  return redactString(url);
}

// ---------------------------------------------------------------------------------------
// Objects
// ---------------------------------------------------------------------------------------

const MAX_DEPTH = 12;
/** Nodes walked per log call; beyond it values are cut rather than logged unchecked. */
const MAX_NODES = 10_000;

interface Walk {
  nodes: number;
  /** Objects on the current path (cycle detection; a shared, acyclic object is fine). */
  ancestors: Set<object>;
}

/**
 * `value` with every secret-named key's value replaced by `[REDACTED]` and secrets in
 * strings masked ({@link redactString}), at any depth, inside arrays, Errors (message,
 * stack, own fields, `cause`, `errors`) and objects with `toJSON`.
 *
 * Copy-on-write: an object is copied only when something inside it changes, so logging a
 * large clean object costs one walk and no allocation; the caller's objects are never
 * mutated. Errors keep their prototype (the log shows their type). Cycles become
 * `[Circular]`; beyond {@link MAX_DEPTH} levels or {@link MAX_NODES} values, `[Truncated]`.
 */
export function redactDeep(value: unknown): unknown {
  return walk(value, 0, { nodes: 0, ancestors: new Set() });
}

function walk(value: unknown, depth: number, state: Walk): unknown {
  if (typeof value === 'string') return redactString(value);
  if (value === null || typeof value !== 'object') return value;
  if (value instanceof Date || Buffer.isBuffer(value) || ArrayBuffer.isView(value)) return value;
  if (state.ancestors.has(value)) return '[Circular]';
  if (depth >= MAX_DEPTH || ++state.nodes > MAX_NODES) return '[Truncated]';
  state.ancestors.add(value);
  try {
    if (Array.isArray(value)) {
      let copy: unknown[] | undefined;
      for (let i = 0; i < value.length; i++) {
        const item: unknown = value[i];
        const next = walk(item, depth + 1, state);
        if (next !== item) {
          copy ??= value.slice();
          copy[i] = next;
        }
      }
      return copy ?? value;
    }
    if (value instanceof Error) return walkError(value, depth, state);
    const toJSON = (value as { toJSON?: unknown }).toJSON;
    // JSON.stringify would log what toJSON returns (ObjectId, URL, Map wrappers, …).
    if (typeof toJSON === 'function') {
      try {
        return walk(toJSON.call(value), depth + 1, state);
      } catch {
        return '[Unserializable]';
      }
    }
    return walkObject(value as Record<string, unknown>, depth, state);
  } finally {
    state.ancestors.delete(value);
  }
}

function walkObject(value: Record<string, unknown>, depth: number, state: Walk): unknown {
  let copy: Record<string, unknown> | undefined;
  for (const key of Object.keys(value)) {
    const child = value[key];
    const next = isSecretKey(key) ? '[REDACTED]' : walk(child, depth + 1, state);
    if (next !== child) {
      copy ??= { ...value };
      copy[key] = next;
    }
  }
  return copy ?? value;
}

function walkError(error: Error, depth: number, state: Walk): unknown {
  // pino's err serializer reads message, stack, own enumerable fields, and `cause` and
  // `errors` even when non-enumerable (as the Error constructor sets `cause`).
  const changes: Record<string, unknown> = {};
  let changed = false;
  const consider = (key: string, child: unknown) => {
    const next = isSecretKey(key) ? '[REDACTED]' : walk(child, depth + 1, state);
    if (next !== child) changed = true;
    changes[key] = next;
  };
  consider('message', error.message);
  consider('stack', error.stack);
  for (const key of Object.keys(error)) consider(key, (error as unknown as Record<string, unknown>)[key]);
  for (const key of ['cause', 'errors']) {
    if (key in error && !(key in changes)) consider(key, (error as unknown as Record<string, unknown>)[key]);
  }
  if (!changed) return error;
  const copy = Object.create(Object.getPrototypeOf(error) as object) as Record<string, unknown>;
  for (const [key, next] of Object.entries(changes)) {
    if (next !== undefined) copy[key] = next;
  }
  return copy;
}

// ---------------------------------------------------------------------------------------
// pino wiring
// ---------------------------------------------------------------------------------------

const { chindingsSym } = pino.symbols;
/** An object key in pino's serialised bindings text. */
const JSON_KEY = /"((?:[^"\\]|\\.)*)":/g;

/**
 * Redacts the bindings a child logger just added. pino applies `formatters.bindings` to
 * the root logger's bindings only and serialises a child's bindings to JSON text once,
 * when the child is created; `onChild` is the one hook every child passes through, so the
 * text it added is checked here. Fastify creates a child per request (`{ reqId }`): the
 * check of such clean bindings is one regex over ~50 characters, without parsing.
 */
function redactChildBindings(child: object): void {
  const holder = child as Record<symbol, string>;
  const parent = Object.getPrototypeOf(child) as Record<symbol, string> | null;
  const all = holder[chindingsSym] ?? '';
  const inherited = parent?.[chindingsSym] ?? '';
  // A child's text is its parent's plus `,"key":value…`; the parent's is already clean.
  const start = all.startsWith(inherited) ? inherited.length : 0;
  const added = all.slice(start);
  if (added.length === 0) return;
  let suspicious = added.includes('@') || added.includes('=');
  for (const match of added.matchAll(JSON_KEY)) {
    if (suspicious) break;
    suspicious = isSecretKey(match[1]!);
  }
  if (!suspicious) return;
  const clean = JSON.stringify(redactRecord(JSON.parse(`{${added.slice(1)}}`) as Record<string, unknown>));
  holder[chindingsSym] = `${all.slice(0, start)},${clean.slice(1, -1)}`;
}

/**
 * pino options shared by every service: structured, redacted, service-tagged.
 *
 * Redaction runs on everything a log line is made of: the merging object
 * (`formatters.log`), the root bindings (`formatters.bindings`), child-logger bindings
 * (`onChild`, so `log.child({ accessToken })` prints no token), and the message and
 * interpolation arguments (`hooks.logMethod`, for URLs in messages).
 */
export function loggerOptions(service: string, level: string): LoggerOptions {
  return {
    level,
    base: { service },
    onChild: redactChildBindings,
    hooks: {
      logMethod(args, method) {
        const clean = args.map((arg) => (typeof arg === 'string' ? redactString(arg) : arg));
        return method.apply(this, clean as Parameters<typeof method>);
      },
    },
    formatters: {
      bindings(bindings) {
        return redactRecord(bindings);
      },
      // Runs before serializers. `req`/`res` are left to their serializers below (which
      // keep only safe fields) so that a whole request object is never walked.
      log(object) {
        return redactRecord(object, true);
      },
    },
    serializers: {
      // Method, redacted URL and id only: headers (Authorization, cookies, signatures) never.
      req(req: FastifyRequest) {
        return {
          method: req.method,
          url: typeof req.url === 'string' ? redactUrl(req.url) : undefined,
          requestId: req.id,
        };
      },
    },
  };
}

function redactRecord(object: Record<string, unknown>, skipRequest = false): Record<string, unknown> {
  const state: Walk = { nodes: 0, ancestors: new Set() };
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(object)) {
    out[key] =
      skipRequest && (key === 'req' || key === 'res')
        ? value
        : isSecretKey(key)
          ? '[REDACTED]'
          : walk(value, 0, state);
  }
  return out;
}

import type { FastifyRequest } from 'fastify';
import type { LoggerOptions } from 'pino';

/**
 * Keys whose values never reach the log output, at any depth and in any capitalisation:
 * exact secret-bearing names, and any key ending in secret, token, password or key
 * material (`appSecret`, `refresh_token`, `dbPassword`, `privateKey`).
 */
const SECRET_KEY =
  /^(authorization|proxy-authorization|cookie|set-cookie|pin|x-api-key|x-hub-signature(-256)?)$|(secret|token|passw(or)?d|api_?key|private_?key)$/i;

/** `scheme://user:password@host` -> `scheme://user:[REDACTED]@host` (Redis and MongoDB URLs). */
const URL_CREDENTIALS = /\b([a-z][a-z0-9+.-]*:\/\/)([^:@/\s]*):([^@/\s]+)@/gi;

const MAX_DEPTH = 12;

/**
 * A copy of `value` with every secret-named key replaced by `[REDACTED]` and passwords
 * in URLs masked, at any depth. Errors keep their prototype (so the log shows their
 * type), message and stack. Cycles and very deep objects are cut.
 */
export function redactDeep(value: unknown, depth = 0, seen: WeakSet<object> = new WeakSet()): unknown {
  if (typeof value === 'string') return value.replace(URL_CREDENTIALS, '$1$2:[REDACTED]@');
  if (value === null || typeof value !== 'object') return value;
  if (seen.has(value)) return '[Circular]';
  if (depth >= MAX_DEPTH) return '[Truncated]';
  seen.add(value);
  if (Array.isArray(value)) return value.map((item) => redactDeep(item, depth + 1, seen));
  if (value instanceof Date || Buffer.isBuffer(value)) return value;
  const out: Record<string, unknown> =
    value instanceof Error ? Object.create(Object.getPrototypeOf(value) as object) : {};
  if (value instanceof Error) {
    out.message = redactDeep(value.message, depth + 1, seen);
    out.stack = redactDeep(value.stack, depth + 1, seen);
  }
  for (const [key, child] of Object.entries(value)) {
    out[key] = SECRET_KEY.test(key) ? '[REDACTED]' : redactDeep(child, depth + 1, seen);
  }
  return out;
}

const SENSITIVE_QUERY =
  /^(access_token|client_secret|code|hub\.verify_token|fb_exchange_token|input_token|token|pin)$/i;

/** Replaces the values of secret-bearing query parameters in a URL. */
export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const params = new URLSearchParams(url.slice(q + 1));
  let changed = false;
  for (const key of [...params.keys()]) {
    if (SENSITIVE_QUERY.test(key)) {
      params.set(key, '[REDACTED]');
      changed = true;
    }
  }
  return changed ? `${url.slice(0, q)}?${params.toString()}` : url;
}

/** pino options shared by every service: structured, redacted, service-tagged. */
export function loggerOptions(service: string, level: string): LoggerOptions {
  return {
    level,
    base: { service },
    formatters: {
      // Runs before serializers. `req`/`res` are left to their serializers below (which
      // keep only safe fields) so that a whole request object is never walked.
      log(object) {
        const out: Record<string, unknown> = {};
        for (const [key, value] of Object.entries(object)) {
          out[key] =
            key === 'req' || key === 'res' ? value : SECRET_KEY.test(key) ? '[REDACTED]' : redactDeep(value);
        }
        return out;
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

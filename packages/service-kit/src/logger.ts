import type { FastifyRequest } from 'fastify';
import type { LoggerOptions } from 'pino';

/** Field names whose values never reach the log output, at any depth up to four. */
export const REDACTED_KEYS = [
  'authorization',
  'Authorization',
  'password',
  'secret',
  'token',
  'accessToken',
  'access_token',
  'appSecret',
  'app_secret',
  'client_secret',
  'apiKey',
  'api_key',
  'pin',
  'cookie',
  'x-hub-signature-256',
  'INTERNAL_AUTH_SECRET',
];

function redactPaths(): string[] {
  const paths: string[] = [];
  for (const key of REDACTED_KEYS) {
    const segment = /^[A-Za-z_$][\w$]*$/.test(key) ? key : `["${key}"]`;
    const join = (prefix: string) =>
      segment.startsWith('[') ? `${prefix}${segment}` : `${prefix}.${segment}`;
    paths.push(segment);
    paths.push(join('*'), join('*.*'), join('*.*.*'));
  }
  return paths;
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
    redact: { paths: redactPaths(), censor: '[REDACTED]' },
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

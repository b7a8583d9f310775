import { AppError, ERRORS, type ErrorCode, type ErrorResponse } from '@wapi/contracts';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

function send(
  reply: FastifyReply,
  request: FastifyRequest,
  code: ErrorCode,
  message: string,
  status?: number,
) {
  const body: ErrorResponse = { error: { code, message, requestId: String(request.id) } };
  return reply.status(status ?? ERRORS[code].status).send(body);
}

/** Longest path echoed in a 404 message. */
const MAX_ECHOED_PATH = 200;

/** The request's path without its query (which may hold secrets), cut to a sane length. */
function pathOf(request: FastifyRequest): string {
  const path = request.url.split('?')[0] ?? '';
  return path.length > MAX_ECHOED_PATH ? `${path.slice(0, MAX_ECHOED_PATH)}…` : path;
}

/**
 * Fastify's own request errors we answer with a specific code and a message of ours
 * (Fastify's texts are fixed, but ours say what to do next).
 */
const FASTIFY_ERRORS: Record<string, { code: ErrorCode; message: (request: FastifyRequest) => string }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: {
    code: 'PAYLOAD_TOO_LARGE',
    message: (request) =>
      `The request body is larger than the ${request.routeOptions.bodyLimit} bytes this endpoint accepts; send a smaller body.`,
  },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: {
    code: 'UNSUPPORTED_MEDIA_TYPE',
    message: () => 'This endpoint does not accept the request’s Content-Type; send application/json.',
  },
  FST_ERR_CTP_EMPTY_JSON_BODY: {
    code: 'VALIDATION_FAILED',
    message: () =>
      'The body is empty but Content-Type is application/json; send a JSON body or drop the header.',
  },
  FST_ERR_CTP_INVALID_JSON_BODY: {
    code: 'VALIDATION_FAILED',
    message: () => 'The body is not valid JSON; fix its syntax and send it again.',
  },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: {
    code: 'BAD_REQUEST',
    message: () =>
      'The body’s length does not match its Content-Length header; send the header the body has.',
  },
  FST_ERR_NOT_FOUND: {
    code: 'ROUTE_NOT_FOUND',
    message: (request) => `No route for ${request.method} ${pathOf(request)}; check the method and path.`,
  },
  FST_ERR_BAD_URL: {
    code: 'BAD_REQUEST',
    message: () => 'The URL contains an invalid percent-encoding; encode it with encodeURIComponent.',
  },
  FST_ERR_MAX_PARAM_LENGTH: {
    code: 'BAD_REQUEST',
    message: () => 'A path parameter is longer than this service accepts.',
  },
};

/** The catalogue code for an HTTP status no more specific rule claimed. */
function codeForStatus(status: number): ErrorCode {
  switch (status) {
    case 413:
      return 'PAYLOAD_TOO_LARGE';
    case 415:
      return 'UNSUPPORTED_MEDIA_TYPE';
    case 429:
      return 'RATE_LIMITED';
    case 503:
      return 'SERVICE_UNAVAILABLE';
    default:
      return status < 500 ? 'BAD_REQUEST' : 'INTERNAL_ERROR';
  }
}

/** What any thrown value says about itself; thrown values need not be Errors. */
function describe(error: unknown): {
  status: number | undefined;
  code: string | undefined;
  isFastify: boolean;
} {
  const e = (typeof error === 'object' && error !== null ? error : {}) as {
    statusCode?: unknown;
    status?: unknown;
    code?: unknown;
  };
  const raw = typeof e.statusCode === 'number' ? e.statusCode : undefined;
  const status = raw !== undefined && Number.isInteger(raw) && raw >= 400 && raw <= 599 ? raw : undefined;
  const code = typeof e.code === 'string' ? e.code : undefined;
  return { status, code, isFastify: error instanceof Error && code?.startsWith('FST_ERR_') === true };
}

/**
 * Answers any error — an {@link AppError}, a Fastify error, a third-party error, a thrown
 * non-Error — as `{ error: { code, message, requestId } }`.
 *
 * Only texts we wrote reach the caller: AppError messages (4xx), schema validation
 * messages (built from our schemas) and the fixed messages above for Fastify's request
 * errors. Everything else answers with the catalogue message of its code, because a
 * library's text (a Graph API error, a driver message) can carry internal detail:
 * - a 4xx status on an error we did not write keeps its status, with the catalogue code
 *   for it (`BAD_REQUEST` unless 413/415/429) and the catalogue message; the original is
 *   logged at `warn`;
 * - everything else is logged in full and answers `INTERNAL_ERROR` (`DEPENDENCY_UNAVAILABLE`
 *   for a 503).
 */
export function answerError(error: unknown, request: FastifyRequest, reply: FastifyReply) {
  if (error instanceof AppError) {
    if (error.status >= 500) {
      // A 5xx message may carry internal detail (e.g. schema errors of a job payload):
      // log it, answer with the catalogue text.
      request.log.error({ err: error }, 'request failed');
      return send(reply, request, error.code, ERRORS[error.code].message);
    }
    return send(reply, request, error.code, error.message);
  }
  const { status, code, isFastify } = describe(error);
  if (isFastify && code === 'FST_ERR_VALIDATION' && (error as { validation?: unknown }).validation) {
    // Built by Fastify from our route schemas: names the offending field.
    return send(reply, request, 'VALIDATION_FAILED', (error as Error).message);
  }
  const known = isFastify && code ? FASTIFY_ERRORS[code] : undefined;
  if (known) return send(reply, request, known.code, known.message(request), status);
  if (status !== undefined && status < 500) {
    if (!isFastify) request.log.warn({ err: error }, 'request failed with a client error from a library');
    const mapped = codeForStatus(status);
    return send(reply, request, mapped, ERRORS[mapped].message, status);
  }
  request.log.error({ err: error }, 'unexpected error');
  const mapped = status === 503 ? 'DEPENDENCY_UNAVAILABLE' : 'INTERNAL_ERROR';
  return send(reply, request, mapped, ERRORS[mapped].message);
}

/**
 * Installs the one error handler ({@link answerError}) and the 404 handler on a service.
 * Errors Fastify raises before routing (a malformed URL, an over-long path parameter)
 * reach {@link answerError} only when it is also passed as Fastify's `frameworkErrors`
 * option; without it Fastify answers them in its own format.
 */
export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: unknown, request, reply) => answerError(error, request, reply));
  app.setNotFoundHandler((request, reply) =>
    send(
      reply,
      request,
      'ROUTE_NOT_FOUND',
      `No route for ${request.method} ${pathOf(request)}; check the method and path.`,
    ),
  );
}

import { AppError, ERRORS, type ErrorBody, type ErrorCode } from '@wapi/contracts';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

function send(
  reply: FastifyReply,
  request: FastifyRequest,
  code: ErrorCode,
  message: string,
  status?: number,
) {
  const body: ErrorBody = { error: { code, message, requestId: String(request.id) } };
  return reply.status(status ?? ERRORS[code].status).send(body);
}

/** Maps Fastify's own error codes to catalogue codes. */
const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'VALIDATION_FAILED',
  FST_ERR_CTP_INVALID_JSON_BODY: 'VALIDATION_FAILED',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'VALIDATION_FAILED',
  FST_ERR_VALIDATION: 'VALIDATION_FAILED',
};

/**
 * The one error handler: every error leaves as `{ error: { code, message, requestId } }`.
 * Catalogue errors keep their message; unexpected errors are logged in full and answered
 * with a generic `INTERNAL_ERROR`, so internal text never reaches a caller.
 */
export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError | AppError, request, reply) => {
    if (error instanceof AppError) {
      if (error.status >= 500) {
        // A 5xx message may carry internal detail (e.g. schema errors of a job payload):
        // log it, answer with the catalogue text.
        request.log.error({ err: error }, 'request failed');
        return send(reply, request, error.code, ERRORS[error.code].message);
      }
      return send(reply, request, error.code, error.message);
    }
    if ('validation' in error && error.validation) {
      return send(reply, request, 'VALIDATION_FAILED', error.message);
    }
    const mapped = error.code ? FASTIFY_CODES[error.code] : undefined;
    if (mapped) return send(reply, request, mapped, error.message);
    if (error.statusCode === 429) return send(reply, request, 'RATE_LIMITED', ERRORS.RATE_LIMITED.message);
    if (error.statusCode && error.statusCode >= 400 && error.statusCode < 500) {
      return send(reply, request, 'VALIDATION_FAILED', error.message, error.statusCode);
    }
    request.log.error({ err: error }, 'unexpected error');
    return send(reply, request, 'INTERNAL_ERROR', ERRORS.INTERNAL_ERROR.message);
  });

  app.setNotFoundHandler((request, reply) =>
    send(reply, request, 'ROUTE_NOT_FOUND', `No route for ${request.method} ${request.url.split('?')[0]}`),
  );
}

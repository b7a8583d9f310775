import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import pino, { type DestinationStream, type Logger } from 'pino';
import { installErrorHandling } from './errors';
import { installHealth, type ReadinessCheck } from './health';
import { loggerOptions } from './logger';

export interface ServiceOptions {
  service: string;
  version: string;
  logLevel: string;
  readinessTimeoutMs: number;
  checks: readonly ReadinessCheck[];
  /** Where logs go (default stdout). Tests pass a stream to read them. */
  logStream?: DestinationStream;
  bodyLimit?: number;
  versions?: Record<string, string>;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The pino logger a service uses, also for what happens outside requests (workers, start-up). */
export function createLogger(service: string, level: string, stream?: DestinationStream): Logger {
  return stream ? pino(loggerOptions(service, level), stream) : pino(loggerOptions(service, level));
}

/**
 * A Fastify instance with everything every wapi service has: redacted structured logs,
 * request ids (a caller's well-formed `x-request-id` is kept, echoed on every answer),
 * the catalogue error handler, `/health`, `/health/ready` and `/metrics`.
 * Apps register their routes on it in `buildApp`.
 */
export function createService(options: ServiceOptions): FastifyInstance {
  const app = Fastify<Server, IncomingMessage, ServerResponse, FastifyBaseLogger>({
    loggerInstance: createLogger(options.service, options.logLevel, options.logStream),
    requestIdHeader: false,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    bodyLimit: options.bodyLimit ?? 1024 * 1024,
    // On close: stop accepting, let in-flight requests finish, drop idle keep-alive sockets.
    forceCloseConnections: 'idle',
    return503OnClosing: true,
  });
  // Requests still in flight when close() starts get `Connection: close`, so their
  // keep-alive sockets end with the answer instead of holding shutdown open until the
  // keep-alive timeout.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
    if (closing) reply.header('connection', 'close');
  });
  installErrorHandling(app);
  installHealth(app, {
    service: options.service,
    version: options.version,
    checks: options.checks,
    timeoutMs: options.readinessTimeoutMs,
    ...(options.versions ? { versions: options.versions } : {}),
  });
  return app;
}

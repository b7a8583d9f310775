import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { AppError, ErrorResponse, WhoAmIResponse } from '@wapi/contracts';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import pino, { type DestinationStream, type Logger } from 'pino';
import type { Registry } from 'prom-client';
import { answerError, installErrorHandling } from './errors';
import { installHealth, type ReadinessCheck } from './health';
import { type InternalAuth, registerInternal } from './internal-auth';
import { loggerOptions } from './logger';

export interface ServiceOptions {
  service: string;
  version: string;
  logLevel: string;
  readinessTimeoutMs: number;
  checks: readonly ReadinessCheck[];
  /**
   * The service's one logger (runService creates it and passes it down). Without one, a
   * logger is created for `service` at `logLevel`.
   */
  log?: Logger;
  /**
   * The service's internal auth. Given, the app is decorated with it (`app.internalAuth`,
   * for `registerInternal`) and answers `GET /internal/v1/whoami` behind it: a caller (or an
   * operator checking the key set-up) learns whether its token is accepted and as whom.
   */
  internalAuth?: InternalAuth;
  bodyLimit?: number;
  versions?: Record<string, string>;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Set when the service was created with `internalAuth`. */
    internalAuth?: InternalAuth;
    /** Every route registered on the service, as the conformance suite inspects them. */
    routeTable: RouteEntry[];
    /** The Prometheus registry `/metrics` serves: register the service's own metrics here. */
    metrics: Registry;
  }
}

/** One registered route: what it answers and whether it declares its response schemas. */
export interface RouteEntry {
  method: string;
  url: string;
  hasResponseSchema: boolean;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The pino logger a service uses, also for what happens outside requests (workers, start-up). */
export function createLogger(service: string, level: string, stream?: DestinationStream): Logger {
  return stream ? pino(loggerOptions(service, level), stream) : pino(loggerOptions(service, level));
}

/**
 * What `createService` returns: a Fastify instance whose routes take their request and
 * reply types from the TypeBox schemas they declare (schemas live in `@wapi/contracts`).
 */
export type ServiceApp = FastifyInstance<
  Server,
  IncomingMessage,
  ServerResponse,
  FastifyBaseLogger,
  TypeBoxTypeProvider
>;

/**
 * A Fastify instance with everything every wapi service has: redacted structured logs,
 * request ids (a caller's well-formed `x-request-id` is kept, echoed on every answer),
 * the catalogue error handler, `/health`, `/health/ready` and `/metrics`.
 * Apps register their routes on it in `buildApp`.
 */
export function createService(options: ServiceOptions): ServiceApp {
  const app = Fastify<Server, IncomingMessage, ServerResponse, FastifyBaseLogger>({
    loggerInstance: options.log ?? createLogger(options.service, options.logLevel),
    requestIdHeader: false,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    bodyLimit: options.bodyLimit ?? 1024 * 1024,
    // Errors raised before routing (a malformed URL encoding, an over-long path parameter)
    // answer in the envelope too, instead of Fastify's own body echoing the path.
    frameworkErrors: answerError,
    // On close: stop accepting, let in-flight requests finish, drop idle keep-alive sockets.
    forceCloseConnections: 'idle',
    // Fastify's own 503 while closing has its own body; the hook below answers it in the
    // error envelope instead.
    return503OnClosing: false,
  }).withTypeProvider<TypeBoxTypeProvider>();
  // Requests still in flight when close() starts get `Connection: close`, so their
  // keep-alive sockets end with the answer instead of holding shutdown open until the
  // keep-alive timeout. Requests arriving on a kept-alive socket after that are refused
  // with 503, so the client retries elsewhere.
  // Recorded before any route is added, so plugins' routes are listed too.
  const routeTable: RouteEntry[] = [];
  app.decorate('routeTable', routeTable);
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) {
      // Fastify adds a HEAD route beside each GET; the GET is what is declared.
      if (method === 'HEAD') continue;
      routeTable.push({ method, url: route.url, hasResponseSchema: route.schema?.response !== undefined });
    }
  });
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onRequest', async () => {
    if (closing) throw new AppError('SERVICE_UNAVAILABLE');
  });
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
    if (closing) reply.header('connection', 'close');
  });
  installErrorHandling(app);
  const metrics = installHealth(app, {
    service: options.service,
    version: options.version,
    checks: options.checks,
    timeoutMs: options.readinessTimeoutMs,
    ...(options.versions ? { versions: options.versions } : {}),
  });
  app.decorate('metrics', metrics);
  if (options.internalAuth) {
    const auth = options.internalAuth;
    app.decorate('internalAuth', auth);
    registerInternal(
      app,
      async (internal) => {
        internal.get(
          '/v1/whoami',
          { schema: { response: { 200: WhoAmIResponse, '4xx': ErrorResponse } } },
          async (request) => ({ service: options.service, caller: request.caller ?? '' }),
        );
      },
      { auth },
    );
  }
  return app;
}

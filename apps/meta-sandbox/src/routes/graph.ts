import type { FastifyError, FastifyInstance } from 'fastify';
import { GraphError, unknownObject } from '../domain/graph-error';
import type { Sandbox } from '../sandbox';
import { authenticate } from './graph-auth';
import { registerMediaRoutes } from './media';
import { registerMessageRoutes } from './messages';
import { registerObjectRoutes } from './objects';
import { registerOnboardingRoutes } from './onboarding';
import { registerTemplateRoutes } from './templates';

const VERSION = /^v\d{1,2}\.0$/;

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Graph routes that authenticate another way (oauth code exchange). */
    graphPublic?: boolean;
    /** Routes outside `/{version}/` (media downloads). */
    unversioned?: boolean;
  }
}

/**
 * Meta's Graph surface under `/{version}/…` (§1.1: any `vNN.0`). Encapsulated so its error
 * handler answers Meta's envelope (§1.3) instead of wapi's.
 */
export async function graphRoutes(app: FastifyInstance, opts: { sandbox: Sandbox }): Promise<void> {
  const { sandbox } = opts;

  // multipart bodies (media upload, §10) are read whole and parsed by the media route.
  app.addContentTypeParser(
    'multipart/form-data',
    { parseAs: 'buffer', bodyLimit: 101 * 1024 * 1024 },
    (_req, body, done) => done(null, body),
  );
  // Graph accepts form-encoded parameters as well as JSON.
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) =>
    done(null, Object.fromEntries(new URLSearchParams(String(body)))),
  );

  app.addHook('onRequest', async (request, reply) => {
    const version = (request.params as { version?: string }).version;
    const config = request.routeOptions.config;
    if (!config.unversioned && (version === undefined || !VERSION.test(version))) return reply.callNotFound();
    if (!config.graphPublic) authenticate(sandbox, request);
  });

  app.setErrorHandler((error: FastifyError | GraphError, request, reply) => {
    if (error instanceof GraphError) return reply.status(error.http).send(error.toBody());
    if ((error as FastifyError).code?.startsWith('FST_ERR_CTP') || (error as FastifyError).validation) {
      // Malformed bodies are Graph's code 100 (§4).
      const e = new GraphError(100, error.message);
      return reply.status(e.http).send(e.toBody());
    }
    request.log.error({ err: error }, 'unexpected error in Graph route');
    const e = new GraphError(1, 'An unknown error occurred', {
      http: 500,
      message: 'An unknown error occurred',
    });
    return reply.status(500).send(e.toBody());
  });

  registerMessageRoutes(app, sandbox);
  registerMediaRoutes(app, sandbox);
  registerTemplateRoutes(app, sandbox);
  registerOnboardingRoutes(app, sandbox);
  registerObjectRoutes(app, sandbox);

  // Any other path under a version: Graph's "object does not exist" answer.
  app.all('/:version/*', async (request) => {
    throw unknownObject(request.method, (request.params as { '*': string })['*'].split('/')[0] ?? '');
  });
}

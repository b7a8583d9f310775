import { Type } from '@sinclair/typebox';
import { GraphErrorBody } from '@wapi/contracts';
import type { ServiceApp } from '@wapi/service-kit';
import type { FastifyError, FastifyRequest } from 'fastify';
import { GraphError, unknownObject } from '../domain/graph-error';
import type { CallbackVerifier, Clock, WebhookSink } from '../domain/ports';
import type { SendPolicy } from '../domain/send-decision';
import type { StatusProgression } from '../domain/status-progression';
import type { TemplateReview } from '../domain/templates';
import { resolveVersion, VERSION_SEGMENT } from '../domain/versions';
import type { World } from '../domain/world';
import { authenticate, setGraphVersion } from './graph-auth';
import { registerMediaDownload, registerMediaRoutes } from './media';
import { registerMessageRoutes } from './messages';
import { registerObjectRoutes } from './objects';
import { registerOnboardingRoutes } from './onboarding';
import { registerProfileRoutes } from './profile';
import { registerTemplateRoutes } from './templates';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Graph routes that authenticate another way (oauth code exchange, media downloads). */
    graphPublic?: boolean;
    /** Routes outside Graph's `/{version}/…` shape (media downloads). */
    unversioned?: boolean;
  }
}

/** Query parameters that are never request parameters of a POST. */
const NOT_PARAMETERS = new Set(['access_token', 'appsecret_proof']);

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !Buffer.isBuffer(v);

/** What Meta's Graph surface uses; each group of routes below takes only its part. */
export interface GraphDeps {
  world: World;
  clock: Clock;
  /** The send rules (typed, read once from config). */
  policy: SendPolicy;
  progression: Pick<StatusProgression, 'afterAccepted'>;
  webhooks: WebhookSink;
  verifier: CallbackVerifier;
  review: TemplateReview;
  /** SANDBOX_PUBLIC_URL; empty: the request's host. */
  publicUrl: string;
}

/**
 * The Graph surface, registered twice by {@link graphRoutes}: under `/:version` and without a
 * version segment (docs/meta-platform.md §1.1: a version-less call is answered as the default
 * version).
 */
async function graphSurface(app: ServiceApp, deps: GraphDeps): Promise<void> {
  const { world, clock, policy, progression, webhooks, verifier, review, publicUrl } = deps;
  registerMessageRoutes(app, { world, clock, policy, progression });
  registerMediaRoutes(app, { world, clock });
  registerTemplateRoutes(app, { world, clock, webhooks, review });
  registerProfileRoutes(app, { world, clock, publicUrl });
  registerOnboardingRoutes(app, { world, clock, verifier });
  registerObjectRoutes(app, { world, clock, verifier, review, publicUrl });
}

function firstSegment(request: FastifyRequest): string {
  return (request.url.split('?')[0] ?? '').split('/')[1] ?? '';
}

/**
 * Meta's Graph surface under `/{version}/…` and version-less (§1.1). Encapsulated so its error
 * handler answers Meta's envelope (§1.3) instead of wapi's, and so its lenient body parsing
 * (§1.4: empty JSON bodies, parameters in the query string of a POST) stays on Meta's paths.
 */
export async function graphRoutes(app: ServiceApp, deps: GraphDeps): Promise<void> {
  const access = { world: deps.world, clock: deps.clock };

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
  // §1.4: Graph takes an empty body sent with a JSON content type (a media DELETE, a body-less
  // subscribed_apps POST) as no parameters, where Fastify's own parser refuses it.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    const text = String(body);
    if (text.trim() === '') return done(null, undefined);
    try {
      done(null, JSON.parse(text));
    } catch {
      done(new GraphError(100, 'The request body is not valid JSON; send a JSON object.'), undefined);
    }
  });

  app.addHook('onRequest', async (request, reply) => {
    const config = request.routeOptions.config;
    if (config.unversioned) {
      if (!config.graphPublic) authenticate(access, request);
      return;
    }
    const segment = (request.params as { version?: string }).version;
    if (segment === undefined) {
      // The version-less copy of the surface: its first segment is a Graph id or edge, never
      // a path of wapi's own (`/_sandbox`, `/favicon.ico` stay wapi's 404).
      const first = firstSegment(request);
      if (!/^\d+$/.test(first) && first !== 'oauth' && first !== 'debug_token') return reply.callNotFound();
    } else if (!VERSION_SEGMENT.test(segment)) {
      // Not a version at all: wapi's 404 for the catch-all (e.g. `/_sandbox/unknown`).
      return reply.callNotFound();
    }
    const version = resolveVersion(segment, deps.clock.now());
    if (!version.ok)
      // §1.1: a version Graph never released. Meta's exact answer is unconfirmed (§13).
      throw new GraphError(2500, `Unknown path components: ${request.url.split('?')[0]}`, {
        message: `Unknown path components: ${request.url.split('?')[0]}`,
      });
    setGraphVersion(request, version.major);
    if (!config.graphPublic) authenticate(access, request);
  });

  // §1.4: parameters given in the query string of a POST count as body parameters (the body
  // wins where both give one; that precedence is the sandbox's assumption).
  app.addHook('preValidation', async (request) => {
    if (request.method !== 'POST') return;
    const query = request.query as Record<string, unknown>;
    const fromQuery = Object.entries(query).filter(([k]) => !NOT_PARAMETERS.has(k));
    if (fromQuery.length === 0) return;
    if (request.body === undefined || request.body === null) request.body = Object.fromEntries(fromQuery);
    else if (isPlainObject(request.body))
      request.body = { ...Object.fromEntries(fromQuery), ...request.body };
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

  registerMediaDownload(app, access);
  await app.register(graphSurface, { prefix: '/:version', ...deps });
  await app.register(graphSurface, { ...deps });

  // Any other path under a version: Graph's "object does not exist" answer.
  app.all(
    '/:version/*',
    {
      schema: {
        params: Type.Object({ version: Type.String(), '*': Type.String() }),
        response: { '4xx': GraphErrorBody },
      },
    },
    async (request) => {
      throw unknownObject(request.method, request.params['*'].split('/')[0] ?? '');
    },
  );
}

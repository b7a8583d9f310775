import fastifyCors from '@fastify/cors';
import fastifyHelmet from '@fastify/helmet';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import { ConfigError, type ServiceApp } from '@wapi/service-kit';
import { type Config, SERVICE } from '../config';

/** The OpenAPI document's fixed parts (paths come from the route schemas). */
export const OPENAPI_INFO = {
  openapi: '3.0.3',
  info: {
    title: 'wapi API',
    version: '1',
    description:
      'The public API of wapi. Errors answer `{ error: { code, message, requestId } }` (docs/errors.md).',
  },
  components: {
    securitySchemes: {
      bearer: {
        type: 'http',
        scheme: 'bearer',
        description: 'An access token from /api/v1/auth/login, or an API key (wapi_…)',
      },
    },
  },
  security: [{ bearer: [] }],
} as const;

/**
 * Security headers (helmet, HSTS one year), CORS from an allowlist, and OpenAPI generated
 * from the route schemas (UI at `/docs` outside production). Registered before any route,
 * so swagger sees them all.
 */
export async function registerApiSurface(app: ServiceApp, config: Config): Promise<void> {
  const origins = config.CORS_ORIGINS === '' ? [] : config.CORS_ORIGINS.split(',');
  if (config.NODE_ENV === 'production' && origins.includes('*')) {
    throw new ConfigError(SERVICE, [
      'CORS_ORIGINS: `*` is refused in production; list the console origins instead',
    ]);
  }
  await app.register(fastifyHelmet, {
    hsts: { maxAge: 31_536_000, includeSubDomains: true },
    // The API answers JSON only; the docs UI (outside production) needs inline scripts.
    contentSecurityPolicy: config.NODE_ENV === 'production',
  });
  await app.register(fastifyCors, {
    origin: origins.includes('*') ? true : origins,
    methods: ['GET', 'POST', 'PATCH', 'PUT', 'DELETE'],
    allowedHeaders: ['authorization', 'content-type', 'x-request-id'],
    exposedHeaders: [
      'x-request-id',
      'retry-after',
      'x-ratelimit-limit',
      'x-ratelimit-remaining',
      'x-ratelimit-reset',
      'ratelimit',
      'ratelimit-policy',
    ],
    maxAge: 600,
  });
  await app.register(fastifySwagger, {
    openapi: OPENAPI_INFO as never,
    // Only the public API goes into the document: health, metrics and /internal are not for consumers.
    transform: ({ schema, url }) => ({
      schema: { ...schema, hide: !url.startsWith('/api/v1') } as never,
      url,
    }),
  });
  if (config.NODE_ENV !== 'production') {
    await app.register(fastifySwaggerUi, { routePrefix: '/docs' });
  }
}

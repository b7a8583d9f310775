import { randomBytes } from 'node:crypto';
import { generateServiceKeyPair } from '@wapi/service-kit';
import { createMongoClient } from '@wapi/store';
import { Redis } from 'ioredis';
import pino from 'pino';
import { buildApp } from './app';
import { loadServiceConfig } from './config';

/**
 * The OpenAPI 3 document of the public API, generated from the route schemas. Builds the
 * app with connections that never connect (nothing is requested) and throw-away keys, so it
 * runs anywhere, in the build too.
 */
export async function openApiDocument(): Promise<object> {
  const config = loadServiceConfig({
    PORT: '0',
    REDIS_URL: 'redis://127.0.0.1:1',
    MONGO_URL: 'mongodb://127.0.0.1:1',
    ACCESS_TOKEN_PRIVATE_KEY: randomBytes(32).toString('base64url'),
    INTERNAL_AUTH_PRIVATE_KEY: generateServiceKeyPair().privateKey,
    NODE_ENV: 'development',
  });
  const redis = new Redis(config.REDIS_URL, { lazyConnect: true, enableOfflineQueue: false });
  const mongo = createMongoClient(config.MONGO_URL, 'wapi-gateway-openapi');
  const app = await buildApp({
    config,
    redis,
    db: mongo.db(config.MONGO_DB),
    log: pino({ level: 'silent' }),
  });
  try {
    await app.ready();
    return app.swagger();
  } finally {
    await app.close();
    redis.disconnect();
    await mongo.close();
  }
}

/** The document as `docs/openapi.json` holds it. */
export async function openApiText(): Promise<string> {
  return `${JSON.stringify(await openApiDocument(), null, 2)}\n`;
}

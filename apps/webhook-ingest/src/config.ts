import { Type } from '@sinclair/typebox';
import { SERVICES } from '@wapi/contracts';
import { BaseConfig, InternalAuthConfig, loadConfig, MongoConfig, RedisConfig } from '@wapi/service-kit';

export const SERVICE = 'webhook-ingest';

const schema = {
  ...BaseConfig,
  PORT: Type.Integer({
    minimum: 0,
    maximum: 65535,
    default: SERVICES[SERVICE].port,
    description: 'port to listen on',
  }),
  ...RedisConfig,
  ...MongoConfig,
  MONGO_DB: Type.String({ default: 'wapi_webhook_ingest', description: 'database this service owns' }),
  ...InternalAuthConfig,
};

export type Config = ReturnType<typeof loadServiceConfig>;

/** Parses the environment once; throws ConfigError listing every problem. */
export function loadServiceConfig(env: Readonly<Record<string, string | undefined>>) {
  return loadConfig(SERVICE, schema, env);
}

import { Type } from '@sinclair/typebox';
import { BaseConfig, loadConfig, RedisConfig } from '@wapi/service-kit';

export const SERVICE = 'meta-sandbox';

const schema = {
  ...BaseConfig,
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 7105, description: 'port to listen on' }),
  ...RedisConfig,
};

export type Config = ReturnType<typeof loadServiceConfig>;

/** Parses the environment once; throws ConfigError listing every problem. */
export function loadServiceConfig(env: Readonly<Record<string, string | undefined>>) {
  return loadConfig(SERVICE, schema, env);
}

import { Type } from '@sinclair/typebox';
import { SERVICES, type ServiceName } from '@wapi/contracts';
import { BaseConfig, MongoConfig, RedisConfig } from './config';

/**
 * The variables every service reads (host, port, log level, timeouts, Redis), with the
 * port's default taken from the service table (`contracts/src/services.json`).
 */
export function serviceBaseConfig(service: ServiceName) {
  return {
    ...BaseConfig,
    PORT: Type.Integer({
      minimum: 0,
      maximum: 65535,
      default: SERVICES[service].port,
      description: `port to listen on (default ${SERVICES[service].port}; 0 = any free port)`,
    }),
    ...RedisConfig,
  };
}

/**
 * `MONGO_URL` and `MONGO_DB` for a service that owns a database, the database defaulting
 * to `wapi_<service>` (dashes become underscores).
 */
export function serviceDatabaseConfig(service: ServiceName) {
  if (!SERVICES[service].database)
    throw new Error(`${service} owns no database in services.json; do not give it MONGO_* variables`);
  return {
    ...MongoConfig,
    MONGO_DB: Type.String({
      pattern: '^[A-Za-z0-9_-]{1,63}$',
      default: `wapi_${service.replaceAll('-', '_')}`,
      description: 'the database this service owns',
    }),
  };
}

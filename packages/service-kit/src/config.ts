import {
  type Static,
  type TLiteral,
  type TObject,
  type TProperties,
  type TUnion,
  Type,
} from '@sinclair/typebox';
import { Value, ValueErrorType } from '@sinclair/typebox/value';
import { PREFIX_NAME } from '@wapi/contracts';

/** Thrown by {@link loadConfig}; `problems` lists every missing or malformed variable. */
export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(service: string, problems: string[]) {
    super(
      `${service}: invalid configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n` +
        problems.map((p) => `  - ${p}`).join('\n') +
        '\nSet the variables above (see the service README for each) and start again.',
    );
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/**
 * A union of string literals whose static type stays the union (`'a' | 'b'`), unlike
 * `Type.Union(values.map(Type.Literal))`, which widens to `string`.
 */
export function literalUnion<const T extends readonly [string, ...string[]]>(
  values: T,
  options: { default?: T[number]; description?: string } = {},
): TUnion<TLiteral<T[number]>[]> {
  return Type.Union(
    values.map((value) => Type.Literal(value)),
    options,
  ) as TUnion<TLiteral<T[number]>[]>;
}

/** Variables every service reads. Services extend this with their own. */
export const BaseConfig = {
  HOST: Type.String({ default: '127.0.0.1', description: 'interface to listen on' }),
  PORT: Type.Integer({ minimum: 0, maximum: 65535, description: 'port to listen on (0 = any free port)' }),
  LOG_LEVEL: literalUnion(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
    default: 'info',
  }),
  SHUTDOWN_TIMEOUT_MS: Type.Integer({
    minimum: 100,
    default: 10_000,
    description: 'grace period on SIGTERM',
  }),
  READINESS_TIMEOUT_MS: Type.Integer({
    minimum: 50,
    default: 1_000,
    description: 'per-dependency check timeout',
  }),
};

export const RedisConfig = {
  REDIS_URL: Type.String({ pattern: '^rediss?://[^/\\s]+', description: 'redis://host:port[/db]' }),
  KEY_PREFIX: Type.String({
    pattern: PREFIX_NAME.source,
    default: 'wapi',
    description: 'Redis key/queue prefix',
  }),
};

export const MongoConfig = {
  MONGO_URL: Type.String({
    pattern: '^mongodb(\\+srv)?://[^/\\s]+',
    description: 'MongoDB connection string',
  }),
};

/**
 * Parses the environment once against a TypeBox object schema.
 *
 * Pure: reads only `env`. Applies defaults, converts strings to the declared types, and
 * reports every problem at once (a missing variable and a malformed one in the same
 * message), so an operator fixes the whole configuration in one go.
 */
export function loadConfig<P extends TProperties>(
  service: string,
  properties: P,
  env: Readonly<Record<string, string | undefined>>,
): Readonly<Static<TObject<P>>> {
  const schema = Type.Object(properties);
  const raw: Record<string, unknown> = {};
  for (const key of Object.keys(properties)) {
    const value = env[key];
    if (value !== undefined && value !== '') raw[key] = value;
  }
  const problems: string[] = [];
  // Value.Convert parses numbers leniently (`1e3` -> 1, `80.5` -> 80, `0x1F` -> 31); an
  // operator's typo must fail instead of starting the service on another port.
  for (const [key, value] of Object.entries(raw)) {
    const kind = (properties[key] as { type?: string }).type;
    if (kind === 'integer' && !/^-?\d+$/.test(String(value).trim())) {
      problems.push(`${key} is malformed: expected a whole number, got ${JSON.stringify(value)}`);
      delete raw[key];
    } else if (kind === 'number' && !/^-?\d+(\.\d+)?$/.test(String(value).trim())) {
      problems.push(`${key} is malformed: expected a number, got ${JSON.stringify(value)}`);
      delete raw[key];
    } else if (kind === 'boolean' && !/^(true|false)$/.test(String(value).trim())) {
      problems.push(`${key} is malformed: expected true or false, got ${JSON.stringify(value)}`);
      delete raw[key];
    }
  }
  const malformed = new Set(problems.map((p) => p.split(' ')[0]));
  const withDefaults = Value.Default(schema, raw);
  const converted = Value.Convert(schema, withDefaults);
  for (const key of Object.keys(properties)) {
    if (malformed.has(key)) continue;
    if (!(key in (converted as Record<string, unknown>))) {
      const description = (properties[key] as { description?: string }).description;
      problems.push(`${key} is required but not set${description ? ` (${description})` : ''}`);
    }
  }
  for (const error of Value.Errors(schema, converted)) {
    const key = error.path.replace(/^\//, '');
    if (error.value === undefined || malformed.has(key)) continue; // reported above
    const property = properties[key] as { anyOf?: { const?: unknown }[]; description?: string };
    const allowed = property.anyOf?.map((s) => s.const);
    if (allowed?.every((v) => v !== undefined)) {
      problems.push(
        `${key} is malformed: expected one of ${allowed.join(', ')}, got ${JSON.stringify(error.value)}`,
      );
    } else if (error.type === ValueErrorType.StringPattern && property.description) {
      // The pattern itself explains nothing to an operator; the description does. The value
      // is not echoed: a malformed key or password is still a secret.
      problems.push(`${key} is malformed: expected ${property.description}`);
    } else {
      problems.push(`${key} is malformed: ${error.message}`);
    }
  }
  if (problems.length > 0) throw new ConfigError(service, [...new Set(problems)]);
  return Object.freeze(converted as Static<TObject<P>>);
}

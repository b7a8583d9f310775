import { Type } from '@sinclair/typebox';
import { InternalAuthConfig, loadConfig, serviceBaseConfig, serviceDatabaseConfig } from '@wapi/service-kit';

export const SERVICE = 'message-sender';

/** Every variable message-sender reads (the README's configuration table lists them). */
export const configSchema = {
  ...serviceBaseConfig(SERVICE),
  ...serviceDatabaseConfig(SERVICE),
  ...InternalAuthConfig,
  GRAPH_BASE_URL: Type.String({
    default: 'https://graph.facebook.com',
    description: 'the Graph API host; meta-sandbox in development, e.g. http://meta-sandbox:7105',
  }),
  GRAPH_VERSION: Type.String({ default: 'v23.0', pattern: '^v[0-9]{2}\\.0$', description: 'e.g. v23.0' }),
  GRAPH_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 120_000, default: 20_000 }),
  VAULT_URL: Type.String({
    default: 'http://vault:7104',
    description: "base URL of vault (numbers' access tokens), e.g. http://vault:7104",
  }),
  META_ACCESS_TOKEN_FILE: Type.String({
    default: '',
    description:
      'development only: a file holding one Graph token used for every number instead of vault (meta-sandbox); empty: vault',
  }),
  TOKEN_CACHE_MS: Type.Integer({ minimum: 0, maximum: 600_000, default: 30_000 }),
  SENDER_CONCURRENCY: Type.Integer({ minimum: 1, maximum: 2_000, default: 100 }),
  SENDER_LOCK_MS: Type.Integer({
    minimum: 1_000,
    maximum: 600_000,
    default: 30_000,
    description: 'BullMQ lock of an active job; a dead worker’s jobs are taken over after it',
  }),
  SENDER_DEFAULT_MPS: Type.Integer({ minimum: 1, maximum: 1_000, default: 80 }),
  SENDER_PACING_SAFETY: Type.Number({ minimum: 0.5, maximum: 1, default: 0.95 }),
  SENDER_PAIR_BURST: Type.Integer({ minimum: 1, maximum: 1_000, default: 45 }),
  SENDER_PAIR_INTERVAL_MS: Type.Integer({ minimum: 1, maximum: 600_000, default: 6_100 }),
  SENDER_MARKETING_SHARE: Type.Number({ minimum: 0.1, maximum: 1, default: 0.8 }),
  SENDER_MARKETING_HORIZON_MS: Type.Integer({
    minimum: 100,
    maximum: 60_000,
    default: 1_000,
    description:
      'how far ahead a marketing message may hold a slot of its number; what waits longer holds a place in the marketing lane only, so a utility message behind a campaign waits at most about this long',
  }),
  SENDER_DIRECTORY_CACHE_MS: Type.Integer({
    minimum: 0,
    maximum: 600_000,
    default: 5_000,
    description: "how long a number's directory entry (throughput, portfolio, messaging limit) is cached",
  }),
  SENDER_MESSAGING_LIMIT_MAX_WAIT_MS: Type.Integer({
    minimum: 0,
    maximum: 7 * 24 * 3_600_000,
    default: 3_600_000,
    description:
      'how long a business-initiated message to a new recipient waits for the portfolio messaging limit before failing MESSAGING_LIMIT_REACHED (authentication: at most 10 min)',
  }),
  SENDER_RETRY_BASE_MS: Type.Integer({ minimum: 10, maximum: 600_000, default: 1_000 }),
  SENDER_RETRY_MAX_MS: Type.Integer({ minimum: 10, maximum: 3_600_000, default: 60_000 }),
  SENDER_SETTLE_WAIT_MS: Type.Integer({
    minimum: 0,
    maximum: 24 * 3_600_000,
    default: 60_000,
    description:
      'after a send left in doubt must have ended, how long to wait for its status webhook (sent key) before dead-lettering it SEND_OUTCOME_UNKNOWN',
  }),
};

export type Config = ReturnType<typeof loadServiceConfig>;

/** Parses the environment once; throws ConfigError listing every problem. */
export function loadServiceConfig(env: Readonly<Record<string, string | undefined>>) {
  return loadConfig(SERVICE, configSchema, env);
}

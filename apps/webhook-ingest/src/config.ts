import { Type } from '@sinclair/typebox';
import { InternalAuthConfig, loadConfig, serviceBaseConfig, serviceDatabaseConfig } from '@wapi/service-kit';

export const SERVICE = 'webhook-ingest';

/** Every variable webhook-ingest reads (the README's configuration table lists them). */
export const configSchema = {
  ...serviceBaseConfig(SERVICE),
  ...serviceDatabaseConfig(SERVICE),
  ...InternalAuthConfig,
  WEBHOOK_VERIFY_TOKEN: Type.String({
    default: '',
    maxLength: 256,
    description:
      'the token Meta echoes in the GET handshake (hub.verify_token); empty refuses every handshake with 403',
  }),
  META_APP_SECRETS: Type.String({
    default: '',
    pattern: '^[^,\\s]*(,[^,\\s]+)*$',
    description:
      'comma-separated Meta app secrets that may sign webhooks (several during a rotation or for several apps); empty answers POSTs 503 WEBHOOK_NOT_CONFIGURED',
  }),
  JOURNAL_BATCH_MAX: Type.Integer({
    minimum: 1,
    maximum: 5_000,
    default: 500,
    description: 'most webhook bodies written by one journal insert (group commit)',
  }),
  JOURNAL_TIMEOUT_MS: Type.Integer({
    minimum: 50,
    maximum: 60_000,
    default: 2_000,
    description: 'longest wait for the journal write before answering 503 (Meta then retries)',
  }),
  REDRIVE_INTERVAL_MS: Type.Integer({
    minimum: 100,
    maximum: 3_600_000,
    default: 30_000,
    description: 'how often unprocessed journal entries and quarantined unknown numbers are re-driven',
  }),
  REDRIVE_GRACE_MS: Type.Integer({
    minimum: 0,
    maximum: 3_600_000,
    default: 10_000,
    description: 'age a journal entry must reach before a re-drive takes it (the live path has it first)',
  }),
  GATEWAY_URL: Type.String({
    default: '',
    pattern: '^(https?://[^\\s]+)?$',
    description:
      "gateway's base URL, asked on a directory cache miss (GET /internal/v1/directory/:id); empty: Redis only",
  }),
};

export type Config = ReturnType<typeof loadServiceConfig>;

/** Parses the environment once; throws ConfigError listing every problem. */
export function loadServiceConfig(env: Readonly<Record<string, string | undefined>>) {
  return loadConfig(SERVICE, configSchema, env);
}

/** The app secrets in `META_APP_SECRETS`, in order. */
export function appSecretsOf(config: Pick<Config, 'META_APP_SECRETS'>): string[] {
  return config.META_APP_SECRETS.split(',').filter((s) => s.length > 0);
}

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
  META_APP_IDS: Type.String({
    default: '',
    pattern: '^([0-9]{1,32}(,[0-9]{1,32})*)?$',
    description:
      "comma-separated Meta app ids whose app secrets sign webhooks; each app's secret is read from vault (workspace platform, purpose meta.app_secret, record <appId> and, during a rotation, <appId>.next)",
  }),
  VAULT_URL: Type.String({
    default: 'http://vault:7104',
    pattern: '^https?://[^\\s]+$',
    description: 'base URL of vault, where the Meta app secrets are read',
  }),
  APP_SECRET_REFRESH_MS: Type.Integer({
    minimum: 100,
    maximum: 3_600_000,
    default: 60_000,
    description:
      'how often the app secrets are read again from vault besides its change feed (a rotation or removal takes effect within it even if a feed message was missed); a failed read keeps the last good set',
  }),
  DEV_META_APP_SECRETS: Type.String({
    default: '',
    pattern: '^[^,\\s]*(,[^,\\s]+)*$',
    description:
      'development only: comma-separated app secrets taken from the environment instead of vault; used only when META_APP_IDS is empty',
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
  PROCESSOR_THREAD: Type.Boolean({
    // Off by default: on the 2-core machine, shared with FerretDB, PostgreSQL and Redis, the
    // thread cost ~12 % more CPU per webhook and did not raise the rate (docs/performance.md).
    default: false,
    description:
      'process journaled webhooks in a worker thread of the built server with its own connections, so the acknowledgement path keeps its event loop (pays when a core is idle); false: one thread',
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

/** The values of a comma-separated list variable, empty items dropped. */
export function listOf(value: string): string[] {
  return value.split(',').filter((s) => s.length > 0);
}

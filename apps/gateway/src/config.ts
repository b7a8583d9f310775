import { Type } from '@sinclair/typebox';
import {
  InternalAuthConfig,
  literalUnion,
  loadConfig,
  serviceBaseConfig,
  serviceDatabaseConfig,
} from '@wapi/service-kit';

export const SERVICE = 'gateway';

const perMinute = (fallback: number, what: string) =>
  Type.Integer({ minimum: 1, maximum: 1_000_000, default: fallback, description: `${what} per minute` });

/** Every variable gateway reads (the README's configuration table lists them). */
export const configSchema = {
  ...serviceBaseConfig(SERVICE),
  ...serviceDatabaseConfig(SERVICE),
  ...InternalAuthConfig,
  ACCESS_TOKEN_PRIVATE_KEY: Type.String({
    pattern: '^([0-9a-fA-F]{64}|[A-Za-z0-9_-]{43})$',
    description:
      'the Ed25519 seed that signs access tokens (EdDSA): 32 random bytes as 64 hex characters (`openssl rand -hex 32`) or base64url without padding (43 characters); or ACCESS_TOKEN_PRIVATE_KEY_FILE',
  }),
  ACCESS_TOKEN_ISSUER: Type.String({
    default: 'wapi-gateway',
    minLength: 1,
    description: 'the `iss` of access tokens',
  }),
  ACCESS_TOKEN_AUDIENCE: Type.String({
    default: 'wapi-api',
    minLength: 1,
    description: 'the `aud` of access tokens',
  }),
  NODE_ENV: literalUnion(['development', 'test', 'production'], {
    default: 'development',
    description: 'production hides /docs and refuses a wildcard CORS origin',
  }),
  CORS_ORIGINS: Type.String({
    default: '',
    pattern: '^(\\*|https?://[^,\\s]+(,https?://[^,\\s]+)*)?$',
    description:
      'browser origins allowed to call the API, comma-separated (`https://console.example.com`); empty: none; `*` only outside production',
  }),
  API_RATE_FREE: perMinute(600, 'API calls of a free workspace'),
  API_RATE_PRO: perMinute(6_000, 'API calls of a pro workspace'),
  SEND_RATE_FREE: perMinute(100, 'message sends of a free workspace'),
  SEND_RATE_PRO: perMinute(1_000, 'message sends of a pro workspace'),
  COMPLIANCE_URL: Type.String({
    default: 'http://127.0.0.1:7103',
    pattern: '^https?://[^\\s/]+$',
    description: 'base URL of compliance (the audit log is read through it), e.g. http://compliance:7103',
  }),
  COMPLIANCE_TIMEOUT_MS: Type.Integer({
    minimum: 100,
    maximum: 60_000,
    default: 5_000,
    description: 'how long an audit-log call to compliance may take before answering 503',
  }),
  VAULT_URL: Type.String({
    default: 'http://127.0.0.1:7104',
    pattern: '^https?://[^\\s/]+$',
    description:
      "base URL of vault (phone numbers' access tokens are stored through it), e.g. http://vault:7104",
  }),
  VAULT_TIMEOUT_MS: Type.Integer({
    minimum: 100,
    maximum: 60_000,
    default: 10_000,
    description: 'how long a write to vault may take before the call answers 503',
  }),
  PUBLIC_RATE_PER_IP: perMinute(60, 'unauthenticated calls (sign-up, login, refresh) of one IP address'),
  TEMPLATE_SYNC_INTERVAL_MS: Type.Integer({
    minimum: 0,
    maximum: 86_400_000,
    default: 900_000,
    description: "how often one gateway instance re-reads every workspace's templates from Graph; 0: never",
  }),
  OUTBOX_SWEEP_INTERVAL_MS: Type.Integer({
    minimum: 0,
    maximum: 3_600_000,
    default: 10_000,
    description:
      'how often accepted messages whose enqueue failed (Redis went away after they were stored) are enqueued again; 0: never',
  }),
  GATEWAY_TRUST_PROXY: Type.String({
    default: '',
    pattern: '^([0-9]+|[0-9A-Fa-f:.]+(/[0-9]{1,3})?(,[0-9A-Fa-f:.]+(/[0-9]{1,3})?)*)?$',
    description:
      'proxies trusted to report the client address in X-Forwarded-For (login throttling and per-IP limits key on it): empty or 0 = none (the TCP peer is the client), a hop count (1 = one proxy in front), or addresses/CIDR networks of the proxies (10.0.0.0/8,192.168.1.7)',
  }),
  GRAPH_BASE_URL: Type.String({
    default: 'https://graph.facebook.com',
    pattern: '^https?://[^\\s/]+$',
    description: 'the Graph API host; meta-sandbox in development, e.g. http://meta-sandbox:7105',
  }),
  GRAPH_VERSION: Type.String({ default: 'v23.0', pattern: '^v[0-9]{2}\\.0$', description: 'e.g. v23.0' }),
  GRAPH_TIMEOUT_MS: Type.Integer({
    minimum: 100,
    maximum: 120_000,
    default: 20_000,
    description: 'how long one Graph call may take',
  }),
  META_APP_ID: Type.String({
    default: '',
    pattern: '^([0-9]{1,32})?$',
    description:
      "the Meta app's id (Embedded Signup's client_id; its secret is in vault as meta.app_secret, workspace `platform`, record = this id); empty: onboarding answers 503",
  }),
  META_ESB_CONFIG_ID: Type.String({
    default: '',
    pattern: '^([0-9A-Za-z_-]{1,64})?$',
    description: "the Embedded Signup configuration id the front end opens Meta's flow with",
  }),
  NUMBER_SYNC_INTERVAL_MS: Type.Integer({
    minimum: 0,
    maximum: 86_400_000,
    default: 3_600_000,
    description:
      "how often one gateway instance re-reads every number's name, quality, limit tier and throughput from Graph; 0: never",
  }),
};

export type Config = ReturnType<typeof loadServiceConfig>;

/** Parses the environment once; throws ConfigError listing every problem. */
export function loadServiceConfig(env: Readonly<Record<string, string | undefined>>) {
  return loadConfig(SERVICE, configSchema, env);
}

import { Type } from '@sinclair/typebox';
import {
  InternalAuthConfig,
  literalUnion,
  loadConfig,
  serviceBaseConfig,
  serviceDatabaseConfig,
} from '@wapi/service-kit';

export const SERVICE = 'vault';

/** Every variable vault reads (the README's configuration table lists them). */
export const configSchema = {
  ...serviceBaseConfig(SERVICE),
  ...serviceDatabaseConfig(SERVICE),
  ...InternalAuthConfig,
  TOKEN_MASTER_KEY: Type.String({
    pattern: '^[0-9a-fA-F]{64}$',
    description:
      'the first key-encryption key (version 1): exactly 64 hex characters (32 random bytes), e.g. from `openssl rand -hex 32`; or TOKEN_MASTER_KEY_FILE',
  }),
  VAULT_KEYS: Type.String({
    pattern: '^([0-9]{1,6}=[0-9a-fA-F]{64}(,[0-9]{1,6}=[0-9a-fA-F]{64})*)?$',
    default: '',
    description:
      'further key-encryption key versions, `2=<64 hex>,3=<64 hex>`; the highest seals new secrets (or VAULT_KEYS_FILE)',
  }),
  VAULT_KMS_KEYS: Type.String({
    pattern: '^([0-9]{1,6}=[A-Za-z0-9:/_+=.@-]{1,256}(,[0-9]{1,6}=[A-Za-z0-9:/_+=.@-]{1,256})*)?$',
    default: '',
    description:
      'key versions held by AWS KMS, `3=<key id, ARN or alias>,…` (region, endpoint and credentials from VAULT_AWS_*)',
  }),
  VAULT_MIN_KEY_VERSION: Type.Integer({
    minimum: 1,
    default: 1,
    description: 'the lowest key version that still opens; raise it only after the rewrap job finished',
  }),
  VAULT_KEY_MAX_ENCRYPTIONS: Type.Integer({
    minimum: 1,
    maximum: 2 ** 32,
    default: 2 ** 32,
    description: 'encryptions one key version may do (random 96-bit GCM nonces: at most 2^32)',
  }),
  VAULT_BACKEND: literalUnion(['local', 'aws'], {
    default: 'local',
    description: "where envelopes are kept: local (vault's MongoDB database) or aws (AWS Secrets Manager)",
  }),
  VAULT_AWS_REGION: Type.String({
    default: 'us-east-1',
    pattern: '^[a-z0-9-]{1,32}$',
    description: 'AWS region (aws backend)',
  }),
  VAULT_AWS_ENDPOINT: Type.String({
    default: '',
    description: 'Secrets Manager endpoint URL; empty for AWS itself (set it for moto or LocalStack)',
  }),
  VAULT_AWS_SECRET_PREFIX: Type.String({
    default: 'wapi/vault',
    pattern: '^[A-Za-z0-9/_+=.@-]{1,128}$',
    description: 'the first part of every secret name in Secrets Manager (aws backend)',
  }),
  VAULT_AWS_ACCESS_KEY_ID: Type.String({
    default: '',
    description:
      'explicit AWS credentials (aws backend); empty: the SDK default chain (role, AWS_* variables)',
  }),
  VAULT_AWS_SECRET_ACCESS_KEY: Type.String({
    default: '',
    description:
      'explicit AWS credentials, with VAULT_AWS_ACCESS_KEY_ID (or VAULT_AWS_SECRET_ACCESS_KEY_FILE)',
  }),
  VAULT_REWRAP_BATCH: Type.Integer({
    minimum: 1,
    maximum: 5_000,
    default: 500,
    description: 'secrets the rewrap job converts per batch',
  }),
};

export type Config = ReturnType<typeof loadServiceConfig>;

/** Parses the environment once; throws ConfigError listing every problem. */
export function loadServiceConfig(env: Readonly<Record<string, string | undefined>>) {
  return loadConfig(SERVICE, configSchema, env);
}

import { type Static, Type } from '@sinclair/typebox';
import { keyOf } from './prefixes';
import type { ServiceName } from './services';

/**
 * vault's internal HTTP contract: what a secret may be for (its purpose), which service may
 * do what with each purpose, and the request/response shapes of `/internal/v1/.../secrets`.
 *
 * A value never appears in anything but `PutSecretBody`/`RotateSecretBody` (in) and
 * `SecretValueResponse` (out); metadata answers carry no value.
 */

/** What a secret is for. Part of the ciphertext's authenticated data: a value sealed for one purpose never opens as another. */
export const VAULT_PURPOSES = [
  'meta.access_token',
  'meta.app_secret',
  'webhook.signing_key',
  'webhook.verify_token',
] as const;
export type VaultPurpose = (typeof VAULT_PURPOSES)[number];

/** What a caller may do with secrets of one purpose. */
export interface PurposeAccess {
  /** May read the value (GET). */
  readonly read: readonly ServiceName[];
  /** May store or rotate a value (PUT, rotate). */
  readonly write: readonly ServiceName[];
  /** May delete it (erasure). */
  readonly delete: readonly ServiceName[];
}

/**
 * Which service may read, write and delete which purpose. Least privilege: whoever reads a
 * Meta access token can message that business's customers, so only the services that call
 * Meta with it (message-sender sends, gateway manages templates and numbers) read it;
 * webhook-ingest only verifies signatures and the subscription handshake. Anything not
 * listed is refused with 403 VAULT_ACCESS_DENIED and audited.
 */
export const VAULT_ACCESS: Readonly<Record<VaultPurpose, PurposeAccess>> = {
  'meta.access_token': {
    read: ['message-sender', 'gateway'],
    write: ['gateway'],
    delete: ['gateway', 'compliance'],
  },
  // gateway reads it for Embedded Signup's code exchange (client_secret, docs/meta-platform.md §8.1).
  'meta.app_secret': {
    read: ['webhook-ingest', 'gateway'],
    write: ['gateway'],
    delete: ['gateway', 'compliance'],
  },
  'webhook.signing_key': { read: ['gateway'], write: ['gateway'], delete: ['gateway', 'compliance'] },
  'webhook.verify_token': { read: ['webhook-ingest'], write: ['gateway'], delete: ['gateway', 'compliance'] },
};

export type VaultOperation = keyof PurposeAccess;

/**
 * The workspace id under which secrets of the platform itself live, not of a tenant: the
 * Meta app secrets (`meta.app_secret`, record id = the Meta app id, and `<appId>.next` for
 * the incoming secret during a rotation). gateway writes them; webhook-ingest reads them.
 */
export const PLATFORM_WORKSPACE_ID = 'platform';

/** The vault record ids of one Meta app's secrets: the current one and, during a rotation, the next. */
export function appSecretRecordIds(appId: string): [current: string, next: string] {
  return [appId, `${appId}.next`];
}

/** Whether `caller` may perform `operation` on secrets of `purpose`. */
export function vaultAllows(caller: string, purpose: VaultPurpose, operation: VaultOperation): boolean {
  return (VAULT_ACCESS[purpose][operation] as readonly string[]).includes(caller);
}

/** Longest value vault stores (characters); Meta tokens are a few hundred. */
export const VAULT_VALUE_MAX_LENGTH = 8_192;

export const VaultWorkspaceId = Type.String({
  pattern: '^[A-Za-z0-9_-]{1,64}$',
  maxLength: 64,
  description: 'owning workspace',
});
export const VaultPurposeSchema = Type.Unsafe<VaultPurpose>(
  Type.String({ enum: [...VAULT_PURPOSES], description: 'what the secret is for' }),
);
export const VaultRecordId = Type.String({
  pattern: '^[A-Za-z0-9_.-]{1,128}$',
  maxLength: 128,
  description: 'the record the secret belongs to (a WABA id, a phone number id, an app id, …)',
});

/** `/internal/v1/workspaces/:workspaceId/secrets/:purpose/:recordId` */
export const SecretParams = Type.Object(
  { workspaceId: VaultWorkspaceId, purpose: VaultPurposeSchema, recordId: VaultRecordId },
  { additionalProperties: false },
);
export type SecretParams = Static<typeof SecretParams>;

/** `/internal/v1/workspaces/:workspaceId/secrets` */
export const WorkspaceSecretsParams = Type.Object(
  { workspaceId: VaultWorkspaceId },
  { additionalProperties: false },
);
export type WorkspaceSecretsParams = Static<typeof WorkspaceSecretsParams>;

/** Body of PUT (store or replace) and of POST …/rotate (replace an existing value). */
export const PutSecretBody = Type.Object(
  { value: Type.String({ minLength: 1, maxLength: VAULT_VALUE_MAX_LENGTH }) },
  { additionalProperties: false },
);
export type PutSecretBody = Static<typeof PutSecretBody>;
export const RotateSecretBody = PutSecretBody;
export type RotateSecretBody = PutSecretBody;

/** What vault says about a secret without its value. */
export const SecretMetadata = Type.Object(
  {
    workspaceId: VaultWorkspaceId,
    purpose: VaultPurposeSchema,
    recordId: VaultRecordId,
    /** Increases with every put, rotation and deletion of this secret. */
    revision: Type.Integer({ minimum: 1 }),
    /** The key-encryption key version that wraps its data key. */
    kekVersion: Type.Integer({ minimum: 1 }),
    updatedAt: Type.String({ format: 'date-time' }),
  },
  { additionalProperties: false },
);
export type SecretMetadata = Static<typeof SecretMetadata>;

export const SecretValueResponse = Type.Object(
  {
    workspaceId: VaultWorkspaceId,
    purpose: VaultPurposeSchema,
    recordId: VaultRecordId,
    revision: Type.Integer({ minimum: 1 }),
    kekVersion: Type.Integer({ minimum: 1 }),
    updatedAt: Type.String({ format: 'date-time' }),
    value: Type.String(),
  },
  { additionalProperties: false },
);
export type SecretValueResponse = Static<typeof SecretValueResponse>;

export const SecretListResponse = Type.Object(
  { secrets: Type.Array(SecretMetadata) },
  { additionalProperties: false },
);
export type SecretListResponse = Static<typeof SecretListResponse>;

export const DeleteSecretResponse = Type.Object(
  { deleted: Type.Boolean({ description: 'false when there was nothing to delete' }) },
  { additionalProperties: false },
);
export type DeleteSecretResponse = Static<typeof DeleteSecretResponse>;

/** The URL path of one secret on vault. */
export function secretPath(workspaceId: string, purpose: VaultPurpose, recordId: string): string {
  return `/internal/v1/workspaces/${encodeURIComponent(workspaceId)}/secrets/${encodeURIComponent(purpose)}/${encodeURIComponent(recordId)}`;
}

/**
 * The Redis pub/sub channel vault publishes a `SecretChanged` on after a secret's value
 * changes (put, rotation, deletion), before it answers the writer. Clients drop their
 * cached copy on it.
 */
export function vaultInvalidationChannel(prefix: string): string {
  return keyOf(prefix, 'vault.changed');
}

/** The message on {@link vaultInvalidationChannel}: which secret changed, never its value. */
export const SecretChanged = Type.Object(
  {
    workspaceId: VaultWorkspaceId,
    purpose: VaultPurposeSchema,
    recordId: VaultRecordId,
    revision: Type.Integer({ minimum: 1 }),
  },
  { additionalProperties: false },
);
export type SecretChanged = Static<typeof SecretChanged>;

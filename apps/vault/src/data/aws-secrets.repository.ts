import { createHash, createHmac, hkdfSync } from 'node:crypto';
import {
  CreateSecretCommand,
  GetSecretValueCommand,
  ListSecretsCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import type { VaultPurpose } from '@wapi/contracts';
import type { SecretDoc, SecretsRepository } from './secrets.repository';

export interface AwsBackendOptions {
  client: SecretsManagerClient;
  /** Every secret name starts with it (`VAULT_AWS_SECRET_PREFIX`, e.g. `wapi/vault`). */
  prefix: string;
  /**
   * Key for the names' HMAC, so a name says nothing about its tenant, purpose or record.
   * Derived (HKDF) from `TOKEN_MASTER_KEY`, which stays configured for as long as the data.
   */
  nameKey: Buffer;
}

/** What one Secrets Manager secret holds: the newest version as stored (an envelope, never plaintext). */
interface StoredVersion {
  workspaceId: string;
  purpose: VaultPurpose;
  recordId: string;
  revision: number;
  kekVersion?: number;
  sealed?: string;
  deleted?: boolean;
  createdAt: string;
}

/** The name-HMAC key for the aws backend, from the master key (never from an id). */
export function awsNameKey(masterKeyHex: string): Buffer {
  return Buffer.from(
    hkdfSync('sha256', Buffer.from(masterKeyHex, 'hex'), Buffer.alloc(0), 'wapi.vault.aws-names.v1', 32),
  );
}

export function createSecretsManagerClient(options: {
  region: string;
  endpoint?: string;
  accessKeyId?: string;
  secretAccessKey?: string;
}): SecretsManagerClient {
  return new SecretsManagerClient({
    region: options.region,
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    ...(options.accessKeyId && options.secretAccessKey
      ? { credentials: { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey } }
      : {}),
  });
}

const isName = (error: unknown, name: string) => (error as { name?: string } | null)?.name === name;

/**
 * The `aws` backend: each secret is one AWS Secrets Manager secret whose `AWSCURRENT`
 * version holds its newest envelope (sealed by vault's key ring as with `local`; Secrets
 * Manager encrypts it once more with its own KMS key). A put, rotation, deletion or rewrap
 * is a `PutSecretValue`, which moves `AWSCURRENT` and leaves the previous envelope as
 * `AWSPREVIOUS` (older versions lose every stage and are removed by the service).
 *
 * Names are `<prefix>/<hmac(workspace)>/<hmac(workspace, purpose, record)>`: HMACs under a
 * key derived from the master key, so neither names nor tags reveal a tenant. Each version's
 * `ClientRequestToken` is derived from (name, revision, KEK version): a retried write is
 * idempotent, and two writers racing for one revision with different values collide
 * (`ResourceExistsException`), which vault answers by re-reading and taking the next one.
 */
export function awsSecretsRepository(options: AwsBackendOptions): SecretsRepository {
  const { client, prefix } = options;
  const mac = (...parts: string[]) =>
    createHmac('sha256', options.nameKey).update(JSON.stringify(parts)).digest('hex').slice(0, 32);
  const folder = (ws: string) => `${prefix}/${mac('ws', ws)}/`;
  const nameOf = (ws: string, purpose: string, recordId: string) =>
    `${folder(ws)}${mac('secret', ws, purpose, recordId)}`;
  const tokenOf = (name: string, revision: number, kekVersion: number) =>
    `r${revision}-k${kekVersion}-${createHash('sha256').update(name).digest('hex').slice(0, 40)}`;

  const toDoc = (stored: StoredVersion): SecretDoc => ({
    _id: nameOf(stored.workspaceId, stored.purpose, stored.recordId),
    workspaceId: stored.workspaceId,
    purpose: stored.purpose,
    recordId: stored.recordId,
    revision: stored.revision,
    ...(stored.kekVersion === undefined ? {} : { kekVersion: stored.kekVersion }),
    ...(stored.sealed === undefined ? {} : { sealed: stored.sealed }),
    ...(stored.deleted ? { deleted: true } : {}),
    createdAt: new Date(stored.createdAt),
  });

  async function current(name: string): Promise<SecretDoc | null> {
    try {
      const out = await client.send(
        new GetSecretValueCommand({ SecretId: name, VersionStage: 'AWSCURRENT' }),
      );
      return out.SecretString ? toDoc(JSON.parse(out.SecretString) as StoredVersion) : null;
    } catch (error) {
      if (isName(error, 'ResourceNotFoundException')) return null;
      throw error;
    }
  }

  async function write(doc: SecretDoc): Promise<boolean> {
    const name = nameOf(doc.workspaceId, doc.purpose, doc.recordId);
    const stored: StoredVersion = {
      workspaceId: doc.workspaceId,
      purpose: doc.purpose,
      recordId: doc.recordId,
      revision: doc.revision,
      ...(doc.kekVersion === undefined ? {} : { kekVersion: doc.kekVersion }),
      ...(doc.sealed === undefined ? {} : { sealed: doc.sealed }),
      ...(doc.deleted ? { deleted: true } : {}),
      createdAt: doc.createdAt.toISOString(),
    };
    const token = tokenOf(name, doc.revision, doc.kekVersion ?? 0);
    const SecretString = JSON.stringify(stored);
    try {
      await client.send(
        new PutSecretValueCommand({ SecretId: name, SecretString, ClientRequestToken: token }),
      );
      return true;
    } catch (error) {
      if (isName(error, 'ResourceExistsException')) return false;
      if (!isName(error, 'ResourceNotFoundException')) throw error;
    }
    try {
      await client.send(
        new CreateSecretCommand({
          Name: name,
          SecretString,
          ClientRequestToken: token,
          Description: 'wapi vault envelope',
          Tags: [{ Key: 'wapi-vault', Value: prefix }],
        }),
      );
      return true;
    } catch (error) {
      if (isName(error, 'ResourceExistsException')) return false;
      throw error;
    }
  }

  /**
   * A rewrapped copy becomes AWSCURRENT only if the version it was made from still is: it is
   * stored without stages, then AWSCURRENT is moved to it from exactly that version, which
   * Secrets Manager refuses if a writer moved the stage meanwhile (a compare-and-set). So a
   * rewrap never puts an older revision back over a newer one.
   */
  async function rewrapWrite(doc: SecretDoc): Promise<boolean> {
    const name = nameOf(doc.workspaceId, doc.purpose, doc.recordId);
    let from: { VersionId?: string | undefined; SecretString?: string | undefined };
    try {
      from = await client.send(new GetSecretValueCommand({ SecretId: name, VersionStage: 'AWSCURRENT' }));
    } catch (error) {
      if (isName(error, 'ResourceNotFoundException')) return false;
      throw error;
    }
    const now = from.SecretString ? (JSON.parse(from.SecretString) as StoredVersion) : undefined;
    if (
      !now ||
      now.deleted ||
      now.revision !== doc.revision ||
      (now.kekVersion ?? 0) >= (doc.kekVersion ?? 0)
    )
      return false;
    const token = tokenOf(name, doc.revision, doc.kekVersion ?? 0);
    try {
      await client.send(
        new PutSecretValueCommand({
          SecretId: name,
          SecretString: JSON.stringify({ ...now, kekVersion: doc.kekVersion, sealed: doc.sealed }),
          ClientRequestToken: token,
          VersionStages: ['WAPI_REWRAPPED'],
        }),
      );
      await client.send(
        new UpdateSecretVersionStageCommand({
          SecretId: name,
          VersionStage: 'AWSCURRENT',
          MoveToVersionId: token,
          RemoveFromVersionId: from.VersionId,
        }),
      );
      return true;
    } catch (error) {
      if (isName(error, 'InvalidParameterException') || isName(error, 'ResourceExistsException'))
        return false;
      throw error;
    }
  }

  async function namesUnder(namePrefix: string): Promise<string[]> {
    const names: string[] = [];
    let NextToken: string | undefined;
    do {
      const page = await client.send(
        new ListSecretsCommand({
          Filters: [{ Key: 'name', Values: [namePrefix] }],
          MaxResults: 100,
          ...(NextToken ? { NextToken } : {}),
        }),
      );
      for (const entry of page.SecretList ?? [])
        if (entry.Name?.startsWith(namePrefix)) names.push(entry.Name);
      NextToken = page.NextToken;
    } while (NextToken);
    return names;
  }

  async function allBelow(kekVersion: number, limit = Number.POSITIVE_INFINITY): Promise<SecretDoc[]> {
    const out: SecretDoc[] = [];
    for (const name of await namesUnder(`${prefix}/`)) {
      const doc = await current(name);
      if (doc && !doc.deleted && (doc.kekVersion ?? 0) < kekVersion) out.push(doc);
      if (out.length >= limit) break;
    }
    return out;
  }

  return {
    latest: (ws, purpose, recordId) => current(nameOf(ws, purpose, recordId)),
    insert: (ws, doc) => write({ ...doc, workspaceId: ws }),
    // A stale write never becomes AWSCURRENT here (its token collides), so there is nothing to undo.
    discard: async () => 0,
    // Secrets Manager keeps only AWSCURRENT and AWSPREVIOUS; older versions are removed by it.
    pruneBefore: async () => 0,
    async list(ws) {
      const docs = await Promise.all((await namesUnder(folder(ws))).map((name) => current(name)));
      return docs
        .filter((doc): doc is SecretDoc => doc !== null && !doc.deleted)
        .sort((a, b) => a.purpose.localeCompare(b.purpose) || a.recordId.localeCompare(b.recordId));
    },
    keys: {
      sealedBelow: (kekVersion, limit) => allBelow(kekVersion, limit),
      countBelow: async (kekVersion) => (await allBelow(kekVersion)).length,
      async insertMany(docs) {
        let inserted = 0;
        for (const doc of docs) if (await rewrapWrite(doc)) inserted++;
        return inserted;
      },
      // The rewrapped version replaced the old one as AWSCURRENT; nothing else to delete.
      deleteIds: async () => 0,
    },
  };
}

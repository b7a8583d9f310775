import {
  AppError,
  type AuditV1,
  type SecretMetadata,
  type SecretValueResponse,
  VAULT_PURPOSES,
  type VaultOperation,
  type VaultPurpose,
  vaultAllows,
} from '@wapi/contracts';
import type { WorkspaceId } from '@wapi/store';
import type { KekUsage } from '../data/kek-usage.repository';
import type { CachedVersion, SealedCache } from '../data/sealed-cache';
import { type SecretDoc, type SecretsRepository, secretDocId } from '../data/secrets.repository';
import { open, type SecretContext, seal } from './envelope';
import type { KeyRing } from './key-ring';

/** Where audit events go (the audit.v1 queue in production). Never given a value. */
export interface Auditor {
  record(events: AuditV1[]): Promise<void>;
}

export interface SecretRef {
  workspaceId: WorkspaceId;
  purpose: VaultPurpose;
  recordId: string;
}

export interface SecretsDeps {
  ring: KeyRing;
  store: SecretsRepository;
  cache: SealedCache;
  usage: KekUsage;
  audit: Auditor;
  now?: () => Date;
}

/** The audit actions vault emits. */
export const AUDIT_ACTIONS = {
  put: 'vault.secret.put',
  rotate: 'vault.secret.rotated',
  read: 'vault.secret.read',
  delete: 'vault.secret.deleted',
  rewrap: 'vault.secret.rewrapped',
  refused: 'vault.access.refused',
} as const;

/**
 * Attempts at taking the next revision when writers race for it: each lost race means
 * another writer succeeded, so n concurrent writers need at most n attempts each (plus one
 * per stale insert undone); writes to one secret are rare, so this is generous.
 */
const WRITE_ATTEMPTS = 20;

/** An audit entry about one secret: who, what, which record; never the value. */
export function auditEvent(
  ref: { workspaceId: string; purpose: string; recordId: string },
  caller: string,
  action: string,
  at: Date,
  data: Record<string, string | number | boolean | null> = {},
): AuditV1 {
  return {
    workspaceId: ref.workspaceId,
    actor: { type: 'service', id: caller },
    action,
    target: { type: 'secret', id: ref.recordId },
    at: at.toISOString(),
    data: { purpose: ref.purpose, ...data },
  };
}

function toVersion(doc: SecretDoc): CachedVersion {
  return {
    revision: doc.revision,
    kekVersion: doc.deleted ? 0 : (doc.kekVersion ?? 0),
    sealed: doc.sealed ?? '',
    createdAt: doc.createdAt.toISOString(),
  };
}

function metadata(ref: SecretRef, version: CachedVersion): SecretMetadata {
  return {
    workspaceId: ref.workspaceId,
    purpose: ref.purpose,
    recordId: ref.recordId,
    revision: version.revision,
    kekVersion: version.kekVersion,
    updatedAt: version.createdAt,
  };
}

const notFound = () => new AppError('VAULT_SECRET_NOT_FOUND');

/**
 * vault's rules: per-purpose access for each calling service (refusals audited), envelope
 * sealing of every value, revisions that only grow, and an audit event for every put,
 * read, rotation and deletion. Plaintext exists only in the arguments and results here.
 */
export function createSecrets(deps: SecretsDeps) {
  const { ring, store, cache, usage, audit } = deps;
  const now = deps.now ?? (() => new Date());
  const context = (ref: SecretRef, revision: number): SecretContext => ({ ...ref, revision });

  async function authorize(caller: string, ref: SecretRef, operation: VaultOperation): Promise<void> {
    if (vaultAllows(caller, ref.purpose, operation)) return;
    await audit.record([auditEvent(ref, caller, AUDIT_ACTIONS.refused, now(), { operation })]);
    throw new AppError(
      'VAULT_ACCESS_DENIED',
      `${caller} may not ${operation} secrets of purpose ${ref.purpose}; see VAULT_ACCESS in packages/contracts/src/vault.ts.`,
    );
  }

  /** The newest version, from the Redis copy or else from MongoDB (then copied). */
  async function current(ref: SecretRef): Promise<CachedVersion | null> {
    const cached = await cache.get(ref.workspaceId, ref.purpose, ref.recordId);
    if (cached) return cached;
    const doc = await store.latest(ref.workspaceId, ref.purpose, ref.recordId);
    if (!doc) return null;
    const version = toVersion(doc);
    await cache.fill([{ ws: ref.workspaceId, purpose: ref.purpose, recordId: ref.recordId, version }]);
    return version;
  }

  /** Inserts the next revision (a value, or a deletion marker for `value === null`). */
  async function write(
    caller: string,
    ref: SecretRef,
    value: string | null,
    action: string,
    mustExist: boolean,
  ): Promise<CachedVersion | null> {
    for (let attempt = 0; attempt < WRITE_ATTEMPTS; attempt++) {
      // MongoDB, not the Redis copy: the revision must follow the record of truth.
      const latest = await store.latest(ref.workspaceId, ref.purpose, ref.recordId);
      const exists = latest !== null && !latest.deleted;
      if (mustExist && !exists) throw notFound();
      if (value === null && !exists) return null;
      const revision = (latest?.revision ?? 0) + 1;
      const createdAt = now();
      let doc: Omit<SecretDoc, 'workspaceId'>;
      if (value === null) {
        doc = {
          _id: secretDocId(ref.workspaceId, ref.purpose, ref.recordId, revision, 0),
          purpose: ref.purpose,
          recordId: ref.recordId,
          revision,
          deleted: true,
          createdAt,
        };
      } else {
        // KMS counts and rotates its own key material; a local KEK's uses are counted here.
        if (ring.kek(ring.current)!.kind === 'local') await usage.take(ring.current);
        doc = {
          _id: secretDocId(ref.workspaceId, ref.purpose, ref.recordId, revision, ring.current),
          purpose: ref.purpose,
          recordId: ref.recordId,
          revision,
          kekVersion: ring.current,
          sealed: await seal(ring, context(ref, revision), value),
          createdAt,
        };
      }
      if (!(await store.insert(ref.workspaceId, doc))) continue; // another writer took this revision
      // A writer that read the secret before others wrote and pruned it could insert a
      // revision whose _id is free again but which is no longer the newest: undo and retry,
      // so an acknowledged write is always the one readers see.
      const newest = await store.latest(ref.workspaceId, ref.purpose, ref.recordId);
      if (newest && newest.revision > revision) {
        await store.discard(ref.workspaceId, doc._id);
        continue;
      }
      // Older ciphertexts go at once: a rotated or deleted value must not stay readable at rest.
      await store.pruneBefore(ref.workspaceId, ref.purpose, ref.recordId, revision);
      const version = toVersion({ ...doc, workspaceId: ref.workspaceId });
      await cache.fill([{ ws: ref.workspaceId, purpose: ref.purpose, recordId: ref.recordId, version }]);
      // Before answering: once the writer has its answer, no client instance that received
      // this message serves the old value again.
      await cache.publishChanged({
        workspaceId: ref.workspaceId,
        purpose: ref.purpose,
        recordId: ref.recordId,
        revision,
      });
      await audit.record([
        auditEvent(ref, caller, action, createdAt, { revision, kekVersion: version.kekVersion }),
      ]);
      return version;
    }
    throw new AppError('SERVICE_UNAVAILABLE', 'Too many concurrent writes to this secret; retry it.');
  }

  return {
    /** Stores (or replaces) a value; `caller` needs write access to the purpose. */
    async put(caller: string, ref: SecretRef, value: string): Promise<SecretMetadata> {
      await authorize(caller, ref, 'write');
      return metadata(ref, (await write(caller, ref, value, AUDIT_ACTIONS.put, false))!);
    },

    /** Replaces the value of an existing secret (404 if there is none). */
    async rotate(caller: string, ref: SecretRef, value: string): Promise<SecretMetadata> {
      await authorize(caller, ref, 'write');
      return metadata(ref, (await write(caller, ref, value, AUDIT_ACTIONS.rotate, true))!);
    },

    /** Deletes a secret (its ciphertexts included); false when there was none. */
    async remove(caller: string, ref: SecretRef): Promise<boolean> {
      await authorize(caller, ref, 'delete');
      return (await write(caller, ref, null, AUDIT_ACTIONS.delete, false)) !== null;
    },

    /** The value, for a caller allowed to read the purpose; the read is audited before it is answered. */
    async read(caller: string, ref: SecretRef): Promise<SecretValueResponse> {
      await authorize(caller, ref, 'read');
      const version = await current(ref);
      if (!version || version.kekVersion === 0) throw notFound();
      const value = await open(ring, context(ref, version.revision), version.sealed);
      await audit.record([
        auditEvent(ref, caller, AUDIT_ACTIONS.read, now(), {
          revision: version.revision,
          kekVersion: version.kekVersion,
        }),
      ]);
      return { ...metadata(ref, version), value };
    },

    /** Metadata (never values) of the workspace's secrets whose purpose the caller may use at all. */
    async list(caller: string, workspaceId: WorkspaceId): Promise<SecretMetadata[]> {
      const visible = new Set<string>(
        VAULT_PURPOSES.filter((p) =>
          (['read', 'write', 'delete'] as const).some((op) => vaultAllows(caller, p, op)),
        ),
      );
      const docs = await store.list(workspaceId);
      return docs
        .filter((doc) => visible.has(doc.purpose))
        .map((doc) =>
          metadata({ workspaceId, purpose: doc.purpose, recordId: doc.recordId }, toVersion(doc)),
        );
    },
  };
}

export type Secrets = ReturnType<typeof createSecrets>;
